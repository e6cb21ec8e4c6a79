/* Recursion-heavy calls: naive doubly recursive Fibonacci. */
#include "wk.h"

/* Not static and not const: the compiler cannot fold the call away. */
i32 fib_n = 39;

static i32 fib(i32 n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

i32 run(void) { return fib(fib_n); }
