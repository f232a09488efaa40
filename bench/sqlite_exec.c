/* bench/sqlite_exec.c: runs SQL on a mistgate SQLite database with the SQLite mistgate
 * itself is built with (bench/search.sh compiles it against the amalgamation that
 * rusqlite's libsqlite3-sys bundles, the version in Cargo.lock, with its build flags), so
 * that query plans and writes are those of the product's SQLite, not the system's.
 *
 *   sqlite_exec DB SQL...
 *
 * Each SQL argument is one statement (`?` parameters stay unbound: NULL). Rows are
 * printed one per line, columns separated by '|'. Exit 1 on any error. */
#include <stdio.h>
#include <stdlib.h>
#include "sqlite3.h"

int main(int argc, char **argv) {
    sqlite3 *db;
    if (argc < 3) {
        fprintf(stderr, "usage: %s DB SQL...\n", argv[0]);
        return 2;
    }
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite_exec: %s: %s\n", argv[1], sqlite3_errmsg(db));
        return 1;
    }
    sqlite3_busy_timeout(db, 10000);
    for (int i = 2; i < argc; i++) {
        sqlite3_stmt *stmt;
        if (sqlite3_prepare_v2(db, argv[i], -1, &stmt, NULL) != SQLITE_OK) {
            fprintf(stderr, "sqlite_exec: %s\n  in: %s\n", sqlite3_errmsg(db), argv[i]);
            return 1;
        }
        int rc;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            int n = sqlite3_column_count(stmt);
            for (int c = 0; c < n; c++) {
                const unsigned char *v = sqlite3_column_text(stmt, c);
                printf("%s%s", c ? "|" : "", v ? (const char *)v : "");
            }
            printf("\n");
        }
        if (rc != SQLITE_DONE) {
            fprintf(stderr, "sqlite_exec: %s\n  in: %s\n", sqlite3_errmsg(db), argv[i]);
            return 1;
        }
        sqlite3_finalize(stmt);
    }
    if (sqlite3_close(db) != SQLITE_OK) {
        fprintf(stderr, "sqlite_exec: closing: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    return 0;
}
