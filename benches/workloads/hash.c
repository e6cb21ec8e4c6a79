/* Integer hashing with rotates: a murmur3-style 32-bit hash and an
 * xxhash64-style 64-bit hash over a 1 MiB buffer, with fresh seeds. */
#include "wk.h"

#define HASH_LEN (1u << 20)

u8 hash_buf[HASH_LEN];
i32 hash_rounds = 256;

static u32 murmur32(const u8 *p, u32 len, u32 seed) {
    u32 h = seed;
    for (u32 i = 0; i + 4 <= len; i += 4) {
        u32 k = (u32)p[i] | (u32)p[i + 1] << 8 | (u32)p[i + 2] << 16 | (u32)p[i + 3] << 24;
        k *= 0xcc9e2d51u;
        k = wk_rotl32(k, 15);
        k *= 0x1b873593u;
        h ^= k;
        h = wk_rotl32(h, 13);
        h = h * 5 + 0xe6546b64u;
    }
    h ^= len;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull

static u64 load64(const u8 *p) {
    u64 v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static u64 xx64(const u8 *p, u32 len, u64 seed) {
    u64 v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
    for (u32 i = 0; i + 32 <= len; i += 32) {
        v1 = wk_rotl64(v1 + load64(p + i) * P2, 31) * P1;
        v2 = wk_rotl64(v2 + load64(p + i + 8) * P2, 31) * P1;
        v3 = wk_rotl64(v3 + load64(p + i + 16) * P2, 31) * P1;
        v4 = wk_rotl64(v4 + load64(p + i + 24) * P2, 31) * P1;
    }
    u64 h = wk_rotl64(v1, 1) + wk_rotl64(v2, 7) + wk_rotl64(v3, 12) + wk_rotl64(v4, 18);
    h += len;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    return h ^ (h >> 32);
}

i64 run(void) {
    u32 x = 0x2545F491u;
    for (u32 i = 0; i < HASH_LEN; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        hash_buf[i] = (u8)x;
    }
    u64 acc = 0;
    for (i32 r = 0; r < hash_rounds; r++) {
        u32 h = murmur32(hash_buf, HASH_LEN, (u32)r);
        u64 g = xx64(hash_buf, HASH_LEN, acc ^ h);
        acc = wk_rotl64(acc, 5) ^ g ^ h;
        hash_buf[(u32)r * 977u] ^= (u8)acc; /* the next round sees new data */
    }
    return (i64)acc;
}
