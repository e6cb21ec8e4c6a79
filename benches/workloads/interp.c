/* A switch-dispatch interpreter: a tiny stack bytecode VM (br_table). The
 * program (data, not code) runs nested loops of arithmetic over registers. */
#include "wk.h"

enum {
    OP_HALT, OP_PUSH, OP_LOAD, OP_STORE, OP_ADD, OP_SUB, OP_MUL, OP_XOR,
    OP_SHR, OP_AND, OP_DUP, OP_DROP, OP_JNZ, OP_JMP, OP_LT, OP_INC, OP_DEC,
};

/* r0 = outer counter, r1 = inner counter, r2 = accumulator, r3 = x. */
i32 interp_prog[] = {
    OP_PUSH, 0, OP_STORE, 2,                       /* acc = 0 */
    OP_PUSH, 1, OP_STORE, 3,                       /* x = 1 */
    OP_PUSH, 600, OP_STORE, 0,                     /* outer = 600 */
    /* 12: outer loop */
    OP_PUSH, 10000, OP_STORE, 1,                   /* inner = 10000 */
    /* 16: inner loop */
    OP_LOAD, 3, OP_PUSH, 1103515245, OP_MUL, OP_PUSH, 12345, OP_ADD, OP_STORE, 3,
    OP_LOAD, 2, OP_LOAD, 3, OP_PUSH, 16, OP_SHR, OP_XOR, OP_STORE, 2,
    OP_LOAD, 2, OP_LOAD, 1, OP_AND, OP_LOAD, 2, OP_ADD, OP_STORE, 2,
    OP_DEC, 1, OP_LOAD, 1, OP_JNZ, 16,
    OP_DEC, 0, OP_LOAD, 0, OP_JNZ, 12,
    OP_LOAD, 2, OP_HALT,
};

static i32 interpret(const i32 *code) {
    i32 stack[64];
    i32 regs[8] = {0};
    i32 sp = 0, pc = 0;
    for (;;) {
        switch (code[pc++]) {
        case OP_HALT: return stack[sp - 1];
        case OP_PUSH: stack[sp++] = code[pc++]; break;
        case OP_LOAD: stack[sp++] = regs[code[pc++] & 7]; break;
        case OP_STORE: regs[code[pc++] & 7] = stack[--sp]; break;
        case OP_ADD: sp--; stack[sp - 1] = (i32)((u32)stack[sp - 1] + (u32)stack[sp]); break;
        case OP_SUB: sp--; stack[sp - 1] = (i32)((u32)stack[sp - 1] - (u32)stack[sp]); break;
        case OP_MUL: sp--; stack[sp - 1] = (i32)((u32)stack[sp - 1] * (u32)stack[sp]); break;
        case OP_XOR: sp--; stack[sp - 1] ^= stack[sp]; break;
        case OP_SHR: sp--; stack[sp - 1] = (i32)((u32)stack[sp - 1] >> (stack[sp] & 31)); break;
        case OP_AND: sp--; stack[sp - 1] &= stack[sp]; break;
        case OP_DUP: stack[sp] = stack[sp - 1]; sp++; break;
        case OP_DROP: sp--; break;
        case OP_JNZ: { i32 t = code[pc++]; if (stack[--sp]) pc = t; break; }
        case OP_JMP: pc = code[pc]; break;
        case OP_LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case OP_INC: regs[code[pc++] & 7]++; break;
        case OP_DEC: regs[code[pc++] & 7]--; break;
        default: return -1;
        }
    }
}

i32 run(void) { return interpret(interp_prog); }
