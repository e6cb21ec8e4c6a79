/*
 * A C program for the wasmkern unikernel, built with wasi-libc:
 *
 *   clang --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-all \
 *       wasi_hello.c -o wasi_hello.wasm
 *
 * It prints through stdout and stderr (the kernel's serial console), reads
 * /data/message.txt from the kernel's in-memory filesystem, prints its
 * lines and counts, and exits with the sum of the decimal numbers in it.
 * It calls clock_gettime and getentropy to show both work, but prints
 * nothing that depends on their values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PATH "/data/message.txt"

int main(void) {
    printf("hello from C, through WASI fd_write\n");

    FILE *f = fopen(PATH, "r");
    if (f == NULL) {
        perror("fopen " PATH);
        return 100;
    }
    char text[4096];
    size_t len = fread(text, 1, sizeof text - 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        perror("fread " PATH);
        return 101;
    }
    text[len] = '\0';

    unsigned lines = 0, sum = 0, number = 0;
    int in_number = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '\n') {
            lines++;
        }
        if (c >= '0' && c <= '9') {
            number = number * 10 + (unsigned)(c - '0');
            in_number = 1;
        } else if (in_number) {
            sum += number;
            number = 0;
            in_number = 0;
        }
    }
    if (in_number) {
        sum += number;
    }

    printf("read %zu bytes, %u lines from " PATH ":\n", len, lines);
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        printf("> %s\n", line);
    }

    struct timespec ts;
    unsigned char seed[16];
    int clock_ok = clock_gettime(CLOCK_MONOTONIC, &ts) == 0;
    int random_ok = getentropy(seed, sizeof seed) == 0;
    fprintf(stderr, "stderr: clock_gettime %s, getentropy %s\n",
            clock_ok ? "ok" : "FAILED", random_ok ? "ok" : "FAILED");

    printf("exiting with the sum of its numbers: %u\n", sum);
    fflush(stdout);
    exit((int)sum);
}
