/* Float kernel: dense double-precision matrix multiply (i-k-j order). */
#include "wk.h"

#define MM_N 256

double mm_a[MM_N * MM_N];
double mm_b[MM_N * MM_N];
double mm_c[MM_N * MM_N];
i32 mm_rounds = 64;

i64 run(void) {
    u32 x = 12345;
    for (u32 i = 0; i < MM_N * MM_N; i++) {
        x = x * 1103515245u + 12345u;
        mm_a[i] = (double)((x >> 16) & 1023) / 512.0 - 1.0;
        x = x * 1103515245u + 12345u;
        mm_b[i] = (double)((x >> 16) & 1023) / 512.0 - 1.0;
    }
    double total = 0.0;
    for (i32 r = 0; r < mm_rounds; r++) {
        for (u32 i = 0; i < MM_N * MM_N; i++) mm_c[i] = 0.0;
        for (u32 i = 0; i < MM_N; i++)
            for (u32 k = 0; k < MM_N; k++) {
                double aik = mm_a[i * MM_N + k];
                for (u32 j = 0; j < MM_N; j++) mm_c[i * MM_N + j] += aik * mm_b[k * MM_N + j];
            }
        for (u32 i = 0; i < MM_N * MM_N; i++) total += mm_c[i] * (double)((i & 7) + 1);
        /* Feed the result back so rounds cannot be merged. */
        mm_a[r] = mm_c[(u32)r * 7] * 0.5;
    }
    return (i64)(total * 1000.0);
}
