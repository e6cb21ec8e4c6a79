/* Bulk memory: memcpy/memset of sizes from 8 bytes to 256 KiB over a
 * 4 MiB buffer. Built with -mbulk-memory, so clang emits memory.copy and
 * memory.fill for wasm; natively they are libc's memcpy/memset. */
#include "wk.h"

#define BULK_LEN (4u << 20)

u8 bulk_buf[BULK_LEN];
i32 bulk_rounds = 200000;

i64 run(void) {
    u32 x = 0x1234567u;
    for (u32 i = 0; i < BULK_LEN; i += 4) {
        x = x * 1664525u + 1013904223u;
        *(u32 *)(bulk_buf + i) = x;
    }
    u64 check = 0;
    for (i32 r = 0; r < bulk_rounds; r++) {
        x = x * 1664525u + 1013904223u;
        /* Sizes 8 B .. 256 KiB, more small copies than large ones. */
        u32 size = 8u << ((x >> 8) % 16);
        size += (x >> 4) & 7;
        u32 src = (x * 2654435761u) % (BULK_LEN - size);
        x = x * 1664525u + 1013904223u;
        u32 dst = (x * 2654435761u) % (BULK_LEN - size);
        if (r & 1) {
            memmove(bulk_buf + dst, bulk_buf + src, size);
        } else {
            memset(bulk_buf + dst, (int)(x >> 24), size / 2);
            memmove(bulk_buf + dst + size / 2, bulk_buf + src, size / 2);
        }
        check = check * 31 + bulk_buf[(x >> 3) % BULK_LEN];
    }
    for (u32 i = 0; i < BULK_LEN; i += 4093) check = check * 131 + bulk_buf[i];
    return (i64)check;
}
