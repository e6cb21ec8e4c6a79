/* The native baseline of call_vm.wat (the wasm is built from the .wat):
 * the same VM with call threading, a dispatch loop calling each
 * instruction's handler through the table; handlers return the state. */
#include "wk.h"

typedef struct {
    i32 op, imm;
} insn;
typedef struct {
    i32 pc;
    i64 a, b, c;
} state;

/* Not static and not const: the compiler cannot fold the program. */
insn cvm_program[7] = {{6, 3}, {1, 0}, {3, 7}, {2, (i32)0x9E3779B1}, {4, 0}, {5, 0}, {0, 0}};
i64 cvm_rounds = 10000000;

typedef state (*handler)(state s);
extern handler cvm_table[7];

#define IMM ((i64)(u32)cvm_program[s.pc].imm)

static state halt(state s) { s.pc = -1; return s; }
static state add(state s) { s.a += s.b; s.pc++; return s; }
static state mulb(state s) { s.b = (i64)((u64)s.b * (u64)IMM); s.pc++; return s; }
static state xshr(state s) { s.a ^= (i64)((u64)s.a >> IMM); s.pc++; return s; }
static state dec_c(state s) { s.c--; s.pc++; return s; }
static state jnz_c(state s) { s.pc = s.c != 0 ? (i32)IMM : s.pc + 1; return s; }
static state inc_b(state s) { s.b += IMM; s.pc++; return s; }

handler cvm_table[7] = {halt, add, mulb, xshr, dec_c, jnz_c, inc_b};

i64 run(void) {
    state s = {0, 0, 1, cvm_rounds};
    do {
        s = cvm_table[cvm_program[s.pc].op](s);
    } while (s.pc >= 0);
    return s.a;
}
