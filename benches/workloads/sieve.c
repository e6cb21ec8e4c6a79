/* Memory-bound loops: a byte sieve of Eratosthenes over 4 MiB, repeated,
 * and prefix sums over a 4 MiB u32 array. */
#include "wk.h"

#define SIEVE_N (1u << 22)
#define PREFIX_N (1u << 20)

u8 sieve_flags[SIEVE_N];
u32 sieve_arr[PREFIX_N];
i32 sieve_rounds = 24;

static u32 count_primes(void) {
    u32 count = 0;
    for (u32 i = 0; i < SIEVE_N; i++) sieve_flags[i] = 1;
    sieve_flags[0] = sieve_flags[1] = 0;
    for (u32 i = 2; i * i < SIEVE_N; i++)
        if (sieve_flags[i])
            for (u32 j = i * i; j < SIEVE_N; j += i) sieve_flags[j] = 0;
    for (u32 i = 0; i < SIEVE_N; i++) count += sieve_flags[i];
    return count;
}

static u64 prefix_sums(u32 seed) {
    u32 x = seed;
    for (u32 i = 0; i < PREFIX_N; i++) {
        x = x * 1664525u + 1013904223u;
        sieve_arr[i] = x >> 16;
    }
    for (u32 pass = 0; pass < 8; pass++)
        for (u32 i = 1; i < PREFIX_N; i++) sieve_arr[i] += sieve_arr[i - 1];
    u64 sum = 0;
    /* A strided read back, so the cache is missed on purpose. */
    for (u32 i = 0; i < PREFIX_N; i++) sum += sieve_arr[(i * 4099u) & (PREFIX_N - 1)] ^ i;
    return sum;
}

i64 run(void) {
    u64 check = 0;
    for (i32 r = 0; r < sieve_rounds; r++) {
        check = check * 31 + count_primes();
        check = check * 31 + prefix_sums((u32)r + 1);
    }
    return (i64)check;
}
