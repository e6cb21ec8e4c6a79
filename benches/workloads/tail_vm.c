/* The native baseline of tail_vm.wat (the wasm is built from the .wat):
 * the same threaded-code VM, each handler ending with a guaranteed tail
 * call (clang's musttail) through the handler table. */
#include "wk.h"

typedef struct {
    i32 op, imm;
} insn;

/* Not static and not const: the compiler cannot fold the program. */
insn vm_program[7] = {{6, 3}, {1, 0}, {3, 7}, {2, (i32)0x9E3779B1}, {4, 0}, {5, 0}, {0, 0}};
i64 vm_rounds = 10000000;

typedef i64 (*handler)(i32 pc, i64 a, i64 b, i64 c);
extern handler vm_table[7];

#define NEXT(pc, a, b, c) __attribute__((musttail)) return vm_table[vm_program[pc].op](pc, a, b, c)
#define IMM ((i64)(u32)vm_program[pc].imm)

static i64 halt(i32 pc, i64 a, i64 b, i64 c) { (void)pc, (void)b, (void)c; return a; }
static i64 add(i32 pc, i64 a, i64 b, i64 c) { NEXT(pc + 1, a + b, b, c); }
static i64 mulb(i32 pc, i64 a, i64 b, i64 c) { NEXT(pc + 1, a, (i64)((u64)b * (u64)IMM), c); }
static i64 xshr(i32 pc, i64 a, i64 b, i64 c) { NEXT(pc + 1, a ^ (i64)((u64)a >> IMM), b, c); }
static i64 dec_c(i32 pc, i64 a, i64 b, i64 c) { NEXT(pc + 1, a, b, c - 1); }
static i64 jnz_c(i32 pc, i64 a, i64 b, i64 c) { NEXT(c != 0 ? (i32)IMM : pc + 1, a, b, c); }
static i64 inc_b(i32 pc, i64 a, i64 b, i64 c) { NEXT(pc + 1, a, b + IMM, c); }

handler vm_table[7] = {halt, add, mulb, xshr, dec_c, jnz_c, inc_b};

i64 run(void) { return vm_table[vm_program[0].op](0, 0, 1, vm_rounds); }
