/*
 * The WASI host-call benchmark: a WASI command (wasi-libc) that makes many
 * small host calls through libc, as ordinary programs do.
 *
 *     wasi_calls write N   N x write(1, buf, 8): one fd_write of one 8-byte
 *                          iovec each (stdout goes to the embedder's sink)
 *     wasi_calls clock N   N x clock_gettime(CLOCK_MONOTONIC): one
 *                          clock_time_get each
 *
 * Every result is checked (each write must report 8 bytes written, the
 * monotonic clock must never go backwards), so an engine that skips or
 * breaks the calls fails instead of looking fast. Exit status: 0 on
 * success, 1 on a failed check, 2 on bad arguments.
 *
 * Built by build.sh:
 *     clang --target=wasm32-wasi --sysroot=/usr -O2 -o wasi_calls.wasm wasi_calls.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int write_loop(long n) {
    static const char buf[8] = "0123456\n";
    for (long i = 0; i < n; i++) {
        if (write(1, buf, sizeof buf) != (ssize_t)sizeof buf) {
            fprintf(stderr, "write %ld failed\n", i);
            return 1;
        }
    }
    return 0;
}

static int clock_loop(long n) {
    struct timespec prev = {0, 0};
    for (long i = 0; i < n; i++) {
        struct timespec ts;
        if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
            fprintf(stderr, "clock_gettime %ld failed\n", i);
            return 1;
        }
        if (ts.tv_sec < prev.tv_sec ||
            (ts.tv_sec == prev.tv_sec && ts.tv_nsec < prev.tv_nsec)) {
            fprintf(stderr, "the monotonic clock went backwards at call %ld\n", i);
            return 1;
        }
        prev = ts;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: wasi_calls write|clock N\n");
        return 2;
    }
    char *end;
    long n = strtol(argv[2], &end, 10);
    if (*end != '\0' || n < 0) {
        fprintf(stderr, "bad count: %s\n", argv[2]);
        return 2;
    }
    if (strcmp(argv[1], "write") == 0)
        return write_loop(n);
    if (strcmp(argv[1], "clock") == 0)
        return clock_loop(n);
    fprintf(stderr, "unknown mode: %s\n", argv[1]);
    return 2;
}
