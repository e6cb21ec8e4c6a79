/* Shared by every workload: fixed-width types and, for wasm32 only, the
 * memcpy/memset that clang may emit calls to even in freestanding code
 * (natively, libc provides them). Every helper in a workload is `static`
 * and every global has a per-file prefix, because the native build links
 * all workloads into one binary with `run` renamed to `wk_run_<name>`. */
#ifndef WK_H
#define WK_H

typedef unsigned char u8;
typedef unsigned int u32;
typedef int i32;
typedef unsigned long long u64;
typedef long long i64;
typedef unsigned long usize; /* 32 bits on wasm32, 64 natively */

#if defined(__wasm__) && !defined(__wasm_bulk_memory__)
/* Loop-idiom recognition is disabled inside functions with these names. */
void *memcpy(void *dst, const void *src, usize n);
void *memset(void *dst, int c, usize n);
void *memmove(void *dst, const void *src, usize n);
__attribute__((weak)) void *memcpy(void *dst, const void *src, usize n) {
    u8 *d = dst;
    const u8 *s = src;
    while (n--) *d++ = *s++;
    return dst;
}
__attribute__((weak)) void *memmove(void *dst, const void *src, usize n) {
    u8 *d = dst;
    const u8 *s = src;
    if (d < s) {
        while (n--) *d++ = *s++;
    } else {
        d += n;
        s += n;
        while (n--) *--d = *--s;
    }
    return dst;
}
__attribute__((weak)) void *memset(void *dst, int c, usize n) {
    u8 *d = dst;
    while (n--) *d++ = (u8)c;
    return dst;
}
#else
/* Natively from libc; on wasm with bulk memory, memory.copy/memory.fill. */
#define memcpy __builtin_memcpy
#define memset __builtin_memset
#define memmove __builtin_memmove
#endif

static inline u32 wk_rotl32(u32 x, int r) { return (x << r) | (x >> (32 - r)); }
static inline u64 wk_rotl64(u64 x, int r) { return (x << r) | (x >> (64 - r)); }

#endif
