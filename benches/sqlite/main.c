/* The program around SQLite in benches/sqlite/sqlite.wasm: an in-memory
 * database, a table filled, indexed, aggregated and joined, so that the
 * module is a whole program (a WASI command), not only a library. */
#include <stdio.h>
#include "sqlite3.h"

static int print_row(void *unused, int n, char **values, char **names) {
    (void)unused;
    for (int i = 0; i < n; i++)
        printf("%s%s=%s", i ? " " : "", names[i], values[i] ? values[i] : "NULL");
    printf("\n");
    return 0;
}

int main(void) {
    sqlite3 *db;
    char *err = 0;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return 1;
    int rc = sqlite3_exec(db,
        "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT, n REAL);"
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000)"
        "  INSERT INTO t SELECT x, printf('row%04d', x), x * 0.5 FROM c;"
        "CREATE INDEX t_v ON t(v);"
        "SELECT count(*) AS rows, sum(n) AS total, max(v) AS last FROM t;"
        "SELECT a.k, b.v FROM t a JOIN t b ON b.k = a.k * 2 WHERE a.k % 250 = 0;",
        print_row, 0, &err);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "sqlite: %s\n", err ? err : "error");
        sqlite3_free(err);
    }
    printf("SQLite %s\n", sqlite3_libversion());
    sqlite3_close(db);
    return rc != SQLITE_OK;
}
