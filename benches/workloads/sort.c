/* Sorting through a comparator: a generic quicksort (insertion sort below
 * 16 elements) that calls its comparator through a function pointer, which
 * wasm compiles to call_indirect. */
#include "wk.h"

#define SORT_N (1u << 19)

u32 sort_data[SORT_N];
typedef i32 (*cmp_fn)(const void *, const void *);

static i32 cmp_u32(const void *a, const void *b) {
    u32 x = *(const u32 *)a, y = *(const u32 *)b;
    return (x > y) - (x < y);
}
static i32 cmp_low_then_high(const void *a, const void *b) {
    u32 x = *(const u32 *)a, y = *(const u32 *)b;
    u32 xl = x & 0xffff, yl = y & 0xffff;
    if (xl != yl) return xl < yl ? -1 : 1;
    return (x > y) - (x < y);
}
/* Not const: the comparator is picked at run time from this table. */
cmp_fn sort_cmps[2] = {cmp_u32, cmp_low_then_high};

static void swap(u8 *a, u8 *b, usize size) {
    for (usize i = 0; i < size; i++) {
        u8 t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

static void quicksort(u8 *base, usize n, usize size, cmp_fn cmp) {
    while (n > 16) {
        usize mid = n / 2;
        u8 *lo = base, *m = base + mid * size, *hi = base + (n - 1) * size;
        if (cmp(m, lo) < 0) swap(m, lo, size);
        if (cmp(hi, m) < 0) {
            swap(hi, m, size);
            if (cmp(m, lo) < 0) swap(m, lo, size);
        }
        swap(m, base, size); /* the pivot goes first */
        usize i = 1, j = n - 1;
        for (;;) {
            while (cmp(base + i * size, base) < 0) i++;
            while (cmp(base, base + j * size) < 0) j--;
            if (i >= j) break;
            swap(base + i * size, base + j * size, size);
            i++;
            j--;
        }
        swap(base, base + j * size, size);
        /* Recurse into the smaller side, loop on the larger. */
        if (j < n - j - 1) {
            quicksort(base, j, size, cmp);
            base += (j + 1) * size;
            n -= j + 1;
        } else {
            quicksort(base + (j + 1) * size, n - j - 1, size, cmp);
            n = j;
        }
    }
    for (usize i = 1; i < n; i++)
        for (usize k = i; k > 0 && cmp(base + (k - 1) * size, base + k * size) > 0; k--)
            swap(base + (k - 1) * size, base + k * size, size);
}

i64 run(void) {
    u64 check = 0;
    for (u32 round = 0; round < 4; round++) {
        u32 x = 0x9E3779B9u + round;
        for (u32 i = 0; i < SORT_N; i++) {
            x = x * 1664525u + 1013904223u;
            sort_data[i] = x ^ (x >> 15);
        }
        quicksort((u8 *)sort_data, SORT_N, sizeof(u32), sort_cmps[round & 1]);
        for (u32 i = 0; i < SORT_N; i += 97) check = check * 1000003u + sort_data[i];
    }
    return (i64)check;
}
