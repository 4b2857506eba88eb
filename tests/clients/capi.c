/*
 * A libmariadb (C API) client for tests/it/capi.rs: runs one scenario
 * against a server or a router and prints what it saw, one
 * "key<TAB>value" line per observation, so that the same scenario run
 * directly and through sqlyard can be compared line by line. Messages of
 * errors go to stderr (for the reader), codes and SQLSTATEs to stdout.
 *
 * Usage: capi HOST PORT USER PASSWORD DATABASE SCENARIO [USER2 PASSWORD2]
 * Scenarios: cursors change_user bulk progress status metadata long_data
 *            charsets commands procedures
 * Built by the test support with: cc capi.c $(mariadb_config --cflags --libs)
 */
#include <mysql.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *host, *user, *pass, *db, *user2, *pass2;
static unsigned int port;

/* The status bits a session can see change: transaction, autocommit,
 * more results, cursor, last row, out parameters, read-only transaction. */
#define STATUS_MASK (1 | 2 | 8 | 64 | 128 | 4096 | 8192)

static void line(const char *key, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void line(const char *key, const char *fmt, ...) {
    va_list ap;
    printf("%s\t", key);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static void err_line(const char *key, unsigned int no, const char *state, const char *msg) {
    line(key, "ERR %u %s", no, state);
    fprintf(stderr, "%s: %u (%s) %s\n", key, no, state, msg);
}

static void conn_err(const char *key, MYSQL *m) {
    err_line(key, mysql_errno(m), mysql_sqlstate(m), mysql_error(m));
}

static void stmt_err(const char *key, MYSQL_STMT *s) {
    err_line(key, mysql_stmt_errno(s), mysql_stmt_sqlstate(s), mysql_stmt_error(s));
}

static void status(const char *key, MYSQL *m) {
    line(key, "status=%u", m->server_status & STATUS_MASK);
}

static MYSQL *open_conn(const char *key, const char *charset, const char *init,
                        int progress, const char *u, const char *p) {
    MYSQL *m = mysql_init(NULL);
    if (!m) {
        line(key, "mysql_init failed");
        exit(2);
    }
    unsigned int timeout = 20;
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (charset) mysql_options(m, MYSQL_SET_CHARSET_NAME, charset);
    if (init) mysql_options(m, MYSQL_INIT_COMMAND, init);
    if (progress) {
        extern void on_progress(const MYSQL *, unsigned int, unsigned int, double,
                                const char *, unsigned int);
        mysql_optionsv(m, MYSQL_PROGRESS_CALLBACK, (void *)on_progress);
    }
    if (!mysql_real_connect(m, host, u ? u : user, p ? p : pass, db, port, NULL, 0)) {
        conn_err(key, m);
        mysql_close(m);
        return NULL;
    }
    status(key, m);
    return m;
}

static MYSQL *must_open(const char *key) {
    MYSQL *m = open_conn(key, NULL, NULL, 0, NULL, NULL);
    if (!m) exit(3);
    return m;
}

/* Prints every result set of a text-protocol statement. */
static int q(const char *key, MYSQL *m, const char *sql) {
    if (mysql_query(m, sql)) {
        conn_err(key, m);
        return 1;
    }
    int set = 0;
    do {
        MYSQL_RES *r = mysql_store_result(m);
        if (r) {
            unsigned int n = mysql_num_fields(r);
            MYSQL_FIELD *f = mysql_fetch_fields(r);
            char buf[4096];
            size_t at = 0;
            for (unsigned int i = 0; i < n && at < sizeof buf - 1; i++)
                at += snprintf(buf + at, sizeof buf - at, "%s%s:%d", i ? "," : "", f[i].name,
                               f[i].type);
            line(key, "set %d columns %s", set, buf);
            MYSQL_ROW row;
            while ((row = mysql_fetch_row(r))) {
                unsigned long *len = mysql_fetch_lengths(r);
                at = 0;
                for (unsigned int i = 0; i < n && at < sizeof buf - 1; i++)
                    at += snprintf(buf + at, sizeof buf - at, "%s%.*s", i ? "|" : "",
                                   row[i] ? (int)(len[i] > 200 ? 200 : len[i]) : 4,
                                   row[i] ? row[i] : "NULL");
                line(key, "row %s", buf);
            }
            mysql_free_result(r);
        } else if (mysql_field_count(m) == 0) {
            line(key, "set %d affected %llu", set, (unsigned long long)mysql_affected_rows(m));
        } else {
            conn_err(key, m);
        }
        status(key, m);
        set++;
    } while (mysql_next_result(m) == 0);
    if (mysql_errno(m)) conn_err(key, m);
    return 0;
}

/* Runs setup SQL; exits on failure (the scenario cannot go on). */
static void must(MYSQL *m, const char *sql) {
    if (mysql_query(m, sql)) {
        fprintf(stderr, "setup failed: %s: %s\n", sql, mysql_error(m));
        exit(4);
    }
    do {
        MYSQL_RES *r = mysql_store_result(m);
        if (r) mysql_free_result(r);
    } while (mysql_next_result(m) == 0);
}

static void print_fields(const char *key, MYSQL_STMT *s) {
    MYSQL_RES *md = mysql_stmt_result_metadata(s);
    line(key, "params %lu fields %u", mysql_stmt_param_count(s), mysql_stmt_field_count(s));
    if (!md) return;
    MYSQL_FIELD *f = mysql_fetch_fields(md);
    for (unsigned int i = 0; i < mysql_num_fields(md); i++)
        line(key, "field %s org=%s table=%s org_table=%s db=%s type=%d len=%lu flags=%u dec=%u cs=%u",
             f[i].name, f[i].org_name, f[i].table, f[i].org_table, f[i].db, f[i].type,
             f[i].length, f[i].flags, f[i].decimals, f[i].charsetnr);
    mysql_free_result(md);
}

/* Result buffers for a statement: every column as a string. */
struct out {
    unsigned int n;
    MYSQL_BIND *bind;
    char (*buf)[256];
    unsigned long *len;
    my_bool *null;
};

static void bind_out(struct out *o, MYSQL_STMT *s) {
    free(o->bind);
    free(o->buf);
    free(o->len);
    free(o->null);
    o->n = mysql_stmt_field_count(s);
    o->bind = calloc(o->n + 1, sizeof *o->bind);
    o->buf = calloc(o->n + 1, sizeof *o->buf);
    o->len = calloc(o->n + 1, sizeof *o->len);
    o->null = calloc(o->n + 1, sizeof *o->null);
    for (unsigned int i = 0; i < o->n; i++) {
        o->bind[i].buffer_type = MYSQL_TYPE_STRING;
        o->bind[i].buffer = o->buf[i];
        o->bind[i].buffer_length = sizeof o->buf[i] - 1;
        o->bind[i].length = &o->len[i];
        o->bind[i].is_null = &o->null[i];
    }
    if (o->n) mysql_stmt_bind_result(s, o->bind);
}

/* Fetches one row; prints it. Returns 1 while rows come. */
static int fetch_one(const char *key, MYSQL_STMT *s, struct out *o) {
    int rc = mysql_stmt_fetch(s);
    if (rc == 0 || rc == MYSQL_DATA_TRUNCATED) {
        char buf[4096];
        size_t at = 0;
        for (unsigned int i = 0; i < o->n && at < sizeof buf - 1; i++) {
            unsigned long l = o->len[i] < 255 ? o->len[i] : 255;
            at += snprintf(buf + at, sizeof buf - at, "%s%.*s", i ? "|" : "",
                           o->null[i] ? 4 : (int)l, o->null[i] ? "NULL" : o->buf[i]);
        }
        line(key, "row %s", buf);
        return 1;
    }
    if (rc == MYSQL_NO_DATA)
        line(key, "no more rows");
    else
        stmt_err(key, s);
    return 0;
}

static MYSQL_STMT *prep(const char *key, MYSQL *m, const char *sql, int cursor) {
    MYSQL_STMT *s = mysql_stmt_init(m);
    if (cursor) {
        unsigned long type = CURSOR_TYPE_READ_ONLY, rows = 1;
        mysql_stmt_attr_set(s, STMT_ATTR_CURSOR_TYPE, &type);
        mysql_stmt_attr_set(s, STMT_ATTR_PREFETCH_ROWS, &rows);
    }
    if (mysql_stmt_prepare(s, sql, strlen(sql))) {
        stmt_err(key, s);
        return s;
    }
    print_fields(key, s);
    return s;
}

static int run(const char *key, MYSQL_STMT *s, struct out *o) {
    if (mysql_stmt_execute(s)) {
        stmt_err(key, s);
        return 1;
    }
    line(key, "executed affected %lld", (long long)mysql_stmt_affected_rows(s));
    status(key, s->mysql);
    if (o) bind_out(o, s);
    return 0;
}

static void fetch_all(const char *key, MYSQL_STMT *s, struct out *o) {
    while (fetch_one(key, s, o)) {
    }
}

/* ------------------------------------------------------------ cursors */

static void scenario_cursors(void) {
    MYSQL *m = must_open("connect");
    must(m, "DROP TABLE IF EXISTS cur_a, cur_b");
    must(m, "CREATE TABLE cur_a (id INT PRIMARY KEY, v VARCHAR(20))");
    must(m, "CREATE TABLE cur_b (id INT PRIMARY KEY, w VARCHAR(20))");
    must(m, "INSERT INTO cur_a VALUES (1,'a1'),(2,'a2'),(3,'a3'),(4,'a4'),(5,'a5')");
    must(m, "INSERT INTO cur_b VALUES (2,'b2'),(3,'b3'),(6,'b6')");
    const char *sql[4] = {
        "SELECT id, v FROM cur_a ORDER BY id",
        "SELECT a.id, b.w FROM cur_a a JOIN cur_b b ON a.id = b.id ORDER BY a.id",
        "SELECT id FROM cur_a UNION SELECT id FROM cur_b ORDER BY id",
        "SELECT id, v FROM cur_a ORDER BY id",
    };
    MYSQL_STMT *s[4];
    struct out o[4];
    memset(o, 0, sizeof o);
    char key[32];
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "prepare%d", i);
        s[i] = prep(key, m, sql[i], 1);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "open%d", i);
        run(key, s[i], &o[i]);
    }
    /* interleaved: one row from each open cursor in turn */
    int open[4] = {1, 1, 1, 1}, left = 4, round = 0;
    while (left) {
        for (int i = 0; i < 4; i++) {
            if (!open[i]) continue;
            snprintf(key, sizeof key, "fetch%d", i);
            if (!fetch_one(key, s[i], &o[i])) {
                open[i] = 0;
                left--;
            }
        }
        if (round++ == 1) q("other_statement", m, "SELECT COUNT(*) FROM cur_b");
    }
    status("after_all", m);
    /* a cursor left open while other statements run, then reset */
    run("reopen0", s[0], &o[0]);
    fetch_one("reopen0", s[0], &o[0]);
    q("while_open", m, "SELECT v FROM cur_a WHERE id = 5");
    fetch_one("reopen0", s[0], &o[0]);
    line("reset0", "rc %d", mysql_stmt_reset(s[0]));
    fetch_one("after_reset0", s[0], &o[0]);
    run("again0", s[0], &o[0]);
    fetch_all("again0", s[0], &o[0]);
    /* free_result on an open cursor, then execute again */
    run("reopen1", s[1], &o[1]);
    fetch_one("reopen1", s[1], &o[1]);
    line("free1", "rc %d", mysql_stmt_free_result(s[1]));
    fetch_one("after_free1", s[1], &o[1]);
    run("again1", s[1], &o[1]);
    fetch_all("again1", s[1], &o[1]);
    /* closing a statement with an open cursor, the others go on */
    run("reopen2", s[2], &o[2]);
    run("reopen3", s[3], &o[3]);
    fetch_one("reopen2", s[2], &o[2]);
    fetch_one("reopen3", s[3], &o[3]);
    line("close2", "rc %d", mysql_stmt_close(s[2]));
    q("after_close2", m, "SELECT 1");
    fetch_all("reopen3", s[3], &o[3]);
    /* while a cursor is open on a text, another statement of the same
     * text runs without a cursor, gets long data, and the text is
     * prepared again: the cursor reads on where it was */
    run("reopen0b", s[0], &o[0]);
    fetch_one("reopen0b", s[0], &o[0]);
    MYSQL_STMT *plain = prep("same_text_plain", m, sql[0], 0);
    struct out op = {0};
    run("same_text_plain", plain, &op);
    mysql_stmt_store_result(plain);
    fetch_all("same_text_plain", plain, &op);
    fetch_one("reopen0b", s[0], &o[0]);
    MYSQL_STMT *again = prep("same_text_again", m, sql[0], 0);
    fetch_one("reopen0b", s[0], &o[0]);
    mysql_stmt_close(again);
    fetch_one("reopen0b", s[0], &o[0]);
    mysql_stmt_close(plain);
    const char *ld_sql = "SELECT LENGTH(?), id FROM cur_a ORDER BY id";
    MYSQL_STMT *ldc = prep("long_cursor", m, ld_sql, 1);
    MYSQL_STMT *ldp = prep("long_plain", m, ld_sql, 0);
    MYSQL_BIND lb;
    memset(&lb, 0, sizeof lb);
    lb.buffer_type = MYSQL_TYPE_STRING;
    lb.buffer = (void *)"short";
    lb.buffer_length = 5;
    mysql_stmt_bind_param(ldc, &lb);
    struct out olc = {0}, olp = {0};
    run("long_cursor", ldc, &olc);
    fetch_one("long_cursor", ldc, &olc);
    MYSQL_BIND lb2;
    memset(&lb2, 0, sizeof lb2);
    lb2.buffer_type = MYSQL_TYPE_LONG_BLOB;
    mysql_stmt_bind_param(ldp, &lb2);
    static char piece[1000];
    memset(piece, 'q', sizeof piece);
    for (int i = 0; i < 3; i++)
        if (mysql_stmt_send_long_data(ldp, 0, piece, sizeof piece)) stmt_err("long_plain", ldp);
    run("long_plain", ldp, &olp);
    mysql_stmt_store_result(ldp);
    fetch_one("long_plain", ldp, &olp);
    fetch_all("long_cursor", ldc, &olc);
    mysql_stmt_close(ldp);
    mysql_stmt_close(ldc);
    line("reset0b", "rc %d", mysql_stmt_reset(s[0]));
    /* an empty cursor */
    MYSQL_STMT *e = prep("prepare_empty", m, "SELECT id FROM cur_a WHERE id > 100", 1);
    run("open_empty", e, &o[2]);
    fetch_all("open_empty", e, &o[2]);
    mysql_stmt_close(e);
    for (int i = 0; i < 4; i++)
        if (i != 2) mysql_stmt_close(s[i]);
    q("end", m, "SELECT 'done'");
    mysql_close(m);
}

/* -------------------------------------------------------- change user */

static int lock_is_free(const char *key) {
    MYSQL *o = open_conn("other_connect", NULL, NULL, 0, NULL, NULL);
    if (!o) return -1;
    q(key, o, "SELECT IS_FREE_LOCK('capi_lock')");
    mysql_close(o);
    return 0;
}

static void dirty(MYSQL *m, MYSQL_STMT **s) {
    must(m, "SET @capi_v = 1");
    must(m, "CREATE TEMPORARY TABLE cu_tmp (x INT)");
    *s = mysql_stmt_init(m);
    mysql_stmt_prepare(*s, "SELECT 1", 8);
    must(m, "DO GET_LOCK('capi_lock', 0)");
    must(m, "START TRANSACTION");
    must(m, "INSERT INTO cu_t VALUES (1)");
}

static void after_change(const char *key, MYSQL *m, MYSQL_STMT *s) {
    char k[64];
    status(key, m);
    snprintf(k, sizeof k, "%s_var", key);
    q(k, m, "SELECT @capi_v");
    snprintf(k, sizeof k, "%s_tmp", key);
    q(k, m, "SELECT * FROM cu_tmp");
    snprintf(k, sizeof k, "%s_stmt", key);
    if (mysql_stmt_execute(s))
        stmt_err(k, s);
    else
        line(k, "executed");
    mysql_stmt_close(s);
    snprintf(k, sizeof k, "%s_lock", key);
    lock_is_free(k);
    snprintf(k, sizeof k, "%s_rows", key);
    q(k, m, "SELECT COUNT(*) FROM cu_t");
    snprintf(k, sizeof k, "%s_who", key);
    q(k, m, "SELECT CURRENT_USER(), USER() LIKE CONCAT(SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '@%'), DATABASE()");
    snprintf(k, sizeof k, "%s_cs", key);
    q(k, m, "SELECT @@character_set_client, @@character_set_connection, @@collation_connection, @@character_set_results");
    snprintf(k, sizeof k, "%s_ac", key);
    q(k, m, "SELECT @@autocommit, @@in_transaction");
}

static void change(const char *key, MYSQL *m, const char *u, const char *p, const char *d) {
    if (mysql_change_user(m, u, p, d))
        conn_err(key, m);
    else
        line(key, "ok");
}

static void scenario_change_user(void) {
    MYSQL *m = must_open("connect");
    MYSQL_STMT *s;
    must(m, "DROP TABLE IF EXISTS cu_t");
    must(m, "CREATE TABLE cu_t (x INT)");
    lock_is_free("before_lock");
    dirty(m, &s);
    lock_is_free("while_locked");
    status("dirty", m);
    /* another user, with the database */
    change("to_user2", m, user2, pass2, db);
    after_change("as_user2", m, s);
    /* the same user again, without a database */
    must(m, "SET @capi_v = 2");
    change("to_user1_nodb", m, user, pass, NULL);
    q("nodb", m, "SELECT DATABASE(), @capi_v");
    change("to_user1_db", m, user, pass, db);
    dirty(m, &s);
    change("same_user", m, user, pass, db);
    after_change("as_same", m, s);
    /* a new character set */
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "latin1");
    change("charset_latin1", m, user, pass, db);
    q("charset_latin1_cs", m,
      "SELECT @@character_set_client, @@character_set_connection, @@collation_connection, @@character_set_results");
    q("charset_latin1_text", m, "SELECT HEX(CONVERT(_utf8mb4 X'C3A9' USING latin1)), HEX('\xe9')");
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    change("charset_utf8mb4", m, user, pass, db);
    q("charset_utf8mb4_cs", m, "SELECT @@character_set_client, @@collation_connection");
    /* connection attributes */
    mysql_optionsv(m, MYSQL_OPT_CONNECT_ATTR_ADD, "capi_key", "capi_value");
    change("with_attrs", m, user, pass, db);
    q("with_attrs_query", m, "SELECT 1");
    /* autocommit off, then change user: back on */
    must(m, "SET autocommit = 0");
    change("autocommit_reset", m, user, pass, db);
    q("autocommit_reset_ac", m, "SELECT @@autocommit");
    status("autocommit_reset_status", m);
    /* a wrong password: what is left of the session */
    must(m, "SET @capi_v = 3");
    change("wrong_password", m, user2, "wrong", NULL);
    q("after_wrong", m, "SELECT CURRENT_USER(), DATABASE(), @capi_v");
    mysql_close(m);
    lock_is_free("end_lock");
}

/* ---------------------------------------------------------------- bulk */

static void show_table(const char *key, MYSQL *m, const char *table) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY 1", table);
    q(key, m, sql);
}

static void scenario_bulk(void) {
    MYSQL *m = must_open("connect");
    unsigned long caps = 0;
    mariadb_get_infov(m, MARIADB_CONNECTION_EXTENDED_SERVER_CAPABILITIES, &caps);
    line("bulk_capability", "%d", (caps & (MARIADB_CLIENT_STMT_BULK_OPERATIONS >> 32)) != 0);
    must(m, "DROP TABLE IF EXISTS bk_t, bk_log");
    must(m, "CREATE TABLE bk_t (id INT PRIMARY KEY, v VARCHAR(20) DEFAULT 'dflt', n INT)");
    must(m, "CREATE TABLE bk_log (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(40))");
    must(m, "CREATE TRIGGER bk_ins AFTER INSERT ON bk_t FOR EACH ROW "
            "INSERT INTO bk_log (what) VALUES (CONCAT('ins ', NEW.id, ' ', IFNULL(NEW.v, 'null')))");
    int ids[4] = {1, 2, 3, 4};
    /* column-wise binding: strings are an array of pointers */
    const char *vs[4] = {"one", "two", "three", "four"};
    unsigned long vlen[4] = {3, 3, 5, 4};
    int ns[4] = {10, 20, 30, 40};
    char vind[4] = {STMT_INDICATOR_NONE, STMT_INDICATOR_NULL, STMT_INDICATOR_DEFAULT,
                    STMT_INDICATOR_NONE};
    char nind[4] = {STMT_INDICATOR_NONE, STMT_INDICATOR_NONE, STMT_INDICATOR_NULL,
                    STMT_INDICATOR_NONE};
    const char *cases[][2] = {
        {"insert", "INSERT INTO bk_t VALUES (?, ?, ?)"},
        {"insert_returning", "INSERT INTO bk_t VALUES (? + 10, ?, ?) RETURNING id, v, n"},
        {"replace", "REPLACE INTO bk_t VALUES (?, ?, ?)"},
        {"update", "UPDATE bk_t SET v = ?, n = ? WHERE id = ?"},
        {"delete_returning", "DELETE FROM bk_t WHERE id = ? + 10 RETURNING id, v"},
        {"delete", "DELETE FROM bk_t WHERE id = ? AND (v = ? OR v IS NULL OR ? IS NULL)"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *key = cases[c][0];
        MYSQL_STMT *s = prep(key, m, cases[c][1], 0);
        unsigned int size = 4;
        mysql_stmt_attr_set(s, STMT_ATTR_ARRAY_SIZE, &size);
        MYSQL_BIND b[3];
        memset(b, 0, sizeof b);
        int upd = strcmp(key, "update") == 0;
        int del = strncmp(key, "delete", 6) == 0;
        /* update binds (v, n, id); delete binds (id [, v, n]) */
        MYSQL_BIND *bid = upd ? &b[2] : &b[0];
        MYSQL_BIND *bv = upd ? &b[0] : &b[1];
        MYSQL_BIND *bn = upd ? &b[1] : &b[2];
        bid->buffer_type = MYSQL_TYPE_LONG;
        bid->buffer = ids;
        bv->buffer_type = MYSQL_TYPE_STRING;
        bv->buffer = (void *)vs;
        bv->length = vlen;
        bv->u.indicator = vind;
        bn->buffer_type = MYSQL_TYPE_LONG;
        bn->buffer = ns;
        bn->u.indicator = nind;
        if (upd) {
            static char ign[4] = {STMT_INDICATOR_IGNORE, STMT_INDICATOR_NONE,
                                  STMT_INDICATOR_NONE, STMT_INDICATOR_IGNORE};
            bv->u.indicator = ign;
        }
        if (mysql_stmt_bind_param(s, b)) stmt_err(key, s);
        struct out o = {0};
        if (run(key, s, &o) == 0 && mysql_stmt_field_count(s) > 0) {
            mysql_stmt_store_result(s);
            fetch_all(key, s, &o);
        }
        (void)del;
        mysql_stmt_close(s);
        char k[64];
        snprintf(k, sizeof k, "%s_table", key);
        show_table(k, m, "bk_t");
    }
    show_table("log", m, "bk_log");
    mysql_close(m);
}

/* ------------------------------------------------------------ progress */

static int progress_calls;

void on_progress(const MYSQL *m, unsigned int stage, unsigned int max_stage, double progress,
                 const char *info, unsigned int info_len) {
    (void)m, (void)stage, (void)max_stage, (void)progress, (void)info, (void)info_len;
    progress_calls++;
}

static void scenario_progress(void) {
    MYSQL *m = must_open("setup");
    must(m, "DROP TABLE IF EXISTS pr_t");
    must(m, "CREATE TABLE pr_t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB");
    /* big enough for a copying ALTER to outlast progress_report_time */
    must(m, "INSERT INTO pr_t SELECT seq, REPEAT('x', 40) FROM seq_1_to_1000000");
    mysql_close(m);
    for (int asked = 1; asked >= 0; asked--) {
        const char *key = asked ? "asked" : "not_asked";
        progress_calls = 0;
        MYSQL *p = open_conn(key, NULL, NULL, asked, NULL, NULL);
        if (!p) continue;
        must(p, "SET SESSION progress_report_time = 1");
        q(key, p, asked ? "ALTER TABLE pr_t ADD COLUMN w INT, ALGORITHM = COPY"
                        : "ALTER TABLE pr_t DROP COLUMN w, ALGORITHM = COPY");
        line(key, "progress reports %s", progress_calls > 0 ? "seen" : "none");
        mysql_close(p);
    }
}

/* -------------------------------------------------------------- status */

static void scenario_status(void) {
    MYSQL *m = must_open("plain");
    q("plain_select", m, "SELECT 1");
    q("plain_begin", m, "BEGIN");
    q("plain_in_trx", m, "SELECT 1");
    q("plain_commit", m, "COMMIT");
    q("plain_ro", m, "START TRANSACTION READ ONLY");
    q("plain_ro_commit", m, "COMMIT");
    line("autocommit_off", "rc %d", mysql_autocommit(m, 0));
    status("autocommit_off", m);
    q("autocommit_off_select", m, "SELECT 1");
    q("autocommit_off_commit", m, "COMMIT");
    line("autocommit_on", "rc %d", mysql_autocommit(m, 1));
    status("autocommit_on", m);
    line("ping", "rc %d", mysql_ping(m));
    status("ping", m);
    mysql_close(m);
    MYSQL *i = open_conn("init_off", NULL, "SET autocommit = 0", 0, NULL, NULL);
    if (i) {
        q("init_off_select", i, "SELECT @@autocommit");
        q("init_off_commit", i, "COMMIT");
        line("init_off_ping", "rc %d", mysql_ping(i));
        status("init_off_ping", i);
        mysql_close(i);
    }
    MYSQL *t = open_conn("init_trx", NULL, "START TRANSACTION", 0, NULL, NULL);
    if (t) {
        q("init_trx_select", t, "SELECT @@in_transaction");
        mysql_close(t);
    }
}

/* ------------------------------------------------------------ metadata */

static void scenario_metadata(void) {
    MYSQL *m = must_open("connect");
    must(m, "DROP TABLE IF EXISTS md_t");
    must(m, "CREATE TABLE md_t (id INT PRIMARY KEY, v VARCHAR(30) CHARACTER SET latin1, d DECIMAL(8,3))");
    must(m, "INSERT INTO md_t VALUES (1, 'x', 1.5), (2, 'y', 2.25)");
    const char *cases[][2] = {
        {"explain", "EXPLAIN SELECT * FROM md_t WHERE id = ?"},
        {"analyze", "ANALYZE FORMAT=JSON SELECT * FROM md_t WHERE id > ?"},
        {"show", "SHOW VARIABLES LIKE ?"},
        {"cte", "WITH c AS (SELECT ? AS x, 'y' AS y) SELECT x, y FROM c"},
        {"select", "SELECT * FROM md_t WHERE id >= ?"},
    };
    int one = 1;
    const char *like = "autocommit";
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *key = cases[c][0];
        MYSQL_STMT *s = prep(key, m, cases[c][1], 0);
        MYSQL_BIND b;
        memset(&b, 0, sizeof b);
        if (strcmp(key, "show") == 0) {
            b.buffer_type = MYSQL_TYPE_STRING;
            b.buffer = (void *)like;
            b.buffer_length = strlen(like);
        } else {
            b.buffer_type = MYSQL_TYPE_LONG;
            b.buffer = &one;
        }
        mysql_stmt_bind_param(s, &b);
        struct out o = {0};
        if (run(key, s, &o) == 0) {
            char k[64];
            snprintf(k, sizeof k, "%s_exec", key);
            print_fields(k, s);
            mysql_stmt_store_result(s);
            if (strcmp(key, "explain") && strcmp(key, "analyze"))
                fetch_all(k, s, &o);
            else
                line(k, "rows %llu", (unsigned long long)mysql_stmt_num_rows(s));
        }
        if (strcmp(key, "select") == 0) {
            /* the table changes under the prepared statement: the server
             * re-prepares it and sends the new column definitions */
            must(m, "ALTER TABLE md_t MODIFY v VARCHAR(60) CHARACTER SET utf8mb4, MODIFY d DECIMAL(10,4)");
            if (run("after_ddl", s, &o) == 0) {
                print_fields("after_ddl_exec", s);
                mysql_stmt_store_result(s);
                fetch_all("after_ddl_exec", s, &o);
            }
            /* a column more: a new prepare of the same text sees it */
            must(m, "ALTER TABLE md_t ADD COLUMN extra INT DEFAULT 7");
            MYSQL_STMT *s2 = prep("reprepare", m, cases[c][1], 0);
            mysql_stmt_bind_param(s2, &b);
            struct out o2 = {0};
            if (run("reprepare", s2, &o2) == 0) fetch_all("reprepare", s2, &o2);
            mysql_stmt_close(s2);
        }
        mysql_stmt_close(s);
    }
    mysql_close(m);
}

/* ----------------------------------------------------------- long data */

static void scenario_long_data(void) {
    MYSQL *m = must_open("connect");
    must(m, "DROP TABLE IF EXISTS ld_t");
    must(m, "CREATE TABLE ld_t (id INT, b LONGBLOB)");
    q("max_allowed_packet", m, "SELECT @@max_allowed_packet");
    MYSQL_RES *r = mysql_store_result(m);
    if (r) mysql_free_result(r);
    unsigned long max = 0;
    if (!mysql_query(m, "SELECT @@max_allowed_packet")) {
        MYSQL_RES *x = mysql_store_result(m);
        MYSQL_ROW row = x ? mysql_fetch_row(x) : NULL;
        if (row) max = strtoul(row[0], NULL, 10);
        if (x) mysql_free_result(x);
    }
    static char chunk[1 << 20];
    memset(chunk, 'z', sizeof chunk);
    unsigned long sizes[2] = {3 * (1 << 20) + 5, max + (1 << 20)};
    for (int k = 0; k < 2; k++) {
        const char *key = k ? "beyond_max" : "within_max";
        MYSQL_STMT *s = prep(key, m, "INSERT INTO ld_t VALUES (?, ?)", 0);
        int id = k;
        MYSQL_BIND b[2];
        memset(b, 0, sizeof b);
        b[0].buffer_type = MYSQL_TYPE_LONG;
        b[0].buffer = &id;
        b[1].buffer_type = MYSQL_TYPE_LONG_BLOB;
        mysql_stmt_bind_param(s, b);
        unsigned long sent = 0;
        while (sent < sizes[k]) {
            unsigned long n = sizes[k] - sent < sizeof chunk ? sizes[k] - sent : sizeof chunk;
            if (mysql_stmt_send_long_data(s, 1, chunk, n)) {
                stmt_err(key, s);
                break;
            }
            sent += n;
        }
        run(key, s, NULL);
        mysql_stmt_close(s);
        q(key, m, "SELECT id, LENGTH(b) FROM ld_t ORDER BY id");
    }
    q("still_works", m, "SELECT 'alive'");
    mysql_close(m);
}

/* ------------------------------------------------------------ charsets */

static void scenario_charsets(void) {
    const char *sets[] = {"ucs2", "utf16", "utf16le", "utf32", "latin1", "utf8mb3", "utf8mb4", "binary"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        MYSQL *m = open_conn(sets[i], sets[i], NULL, 0, NULL, NULL);
        if (!m) continue;
        q(sets[i], m, "SELECT @@character_set_client, @@character_set_connection, @@character_set_results");
        mysql_close(m);
    }
}

/* ------------------------------------------------------------ commands */

static void scenario_commands(void) {
    MYSQL *m = must_open("connect");
    line("ping", "rc %d", mysql_ping(m));
    const char *st = mysql_stat(m);
    if (!st)
        conn_err("statistics", m);
    else {
        /* values move; the names are the server's */
        char names[512] = "", *copy = strdup(st), *save = NULL;
        for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
            if (tok[strlen(tok) - 1] == ':') {
                strncat(names, tok, sizeof names - strlen(names) - 1);
            }
        free(copy);
        line("statistics", "%s", names);
    }
    if (mysql_dump_debug_info(m))
        conn_err("debug", m);
    else
        line("debug", "ok");
    line("multi_on", "rc %d", mysql_set_server_option(m, MYSQL_OPTION_MULTI_STATEMENTS_ON));
    q("multi_on_query", m, "SELECT 1; SELECT 2");
    line("multi_off", "rc %d", mysql_set_server_option(m, MYSQL_OPTION_MULTI_STATEMENTS_OFF));
    q("multi_off_query", m, "SELECT 1; SELECT 2");
    line("bad_option", "rc %d", mysql_set_server_option(m, (enum enum_mysql_set_option)7));
    if (mysql_errno(m)) conn_err("bad_option", m);
    MYSQL_STMT *s = prep("stmt", m, "SELECT ?", 0);
    line("stmt_reset_fresh", "rc %d", mysql_stmt_reset(s));
    int v = 5;
    MYSQL_BIND b;
    memset(&b, 0, sizeof b);
    b.buffer_type = MYSQL_TYPE_LONG;
    b.buffer = &v;
    mysql_stmt_bind_param(s, &b);
    struct out o = {0};
    run("stmt_exec", s, &o);
    fetch_one("stmt_exec", s, &o);
    line("stmt_reset_mid", "rc %d", mysql_stmt_reset(s));
    run("stmt_exec2", s, &o);
    fetch_all("stmt_exec2", s, &o);
    /* MariaDB's prepare and execute in one round trip (execute id -1) */
    MYSQL_STMT *d = mysql_stmt_init(m);
    int dv = 41;
    MYSQL_BIND db1;
    memset(&db1, 0, sizeof db1);
    db1.buffer_type = MYSQL_TYPE_LONG;
    db1.buffer = &dv;
    unsigned int one = 1;
    mysql_stmt_attr_set(d, STMT_ATTR_PREBIND_PARAMS, &one);
    mysql_stmt_bind_param(d, &db1);
    if (mariadb_stmt_execute_direct(d, "SELECT ? + 1", -1))
        stmt_err("execute_direct", d);
    else {
        struct out od = {0};
        bind_out(&od, d);
        mysql_stmt_store_result(d);
        fetch_all("execute_direct", d, &od);
    }
    mysql_stmt_close(d);
    /* an execute-direct whose prepare fails runs nothing */
    d = mysql_stmt_init(m);
    mysql_stmt_attr_set(d, STMT_ATTR_PREBIND_PARAMS, &one);
    mysql_stmt_bind_param(d, &db1);
    if (mariadb_stmt_execute_direct(d, "SELEC ? + 1", -1))
        stmt_err("execute_direct_bad", d);
    else
        line("execute_direct_bad", "ran");
    mysql_stmt_close(d);
    q("after_direct_bad", m, "SELECT 'still here'");
    line("select_db", "rc %d", mysql_select_db(m, db));
    if (mysql_select_db(m, "capi_no_such_db"))
        conn_err("select_db_missing", m);
    must(m, "SET @capi_r = 7");
    must(m, "CREATE TEMPORARY TABLE rc_tmp (x INT)");
    must(m, "SET autocommit = 0");
    if (mysql_reset_connection(m))
        conn_err("reset_connection", m);
    else
        line("reset_connection", "ok");
    status("reset_connection", m);
    q("after_reset", m, "SELECT @capi_r, @@autocommit, DATABASE()");
    q("after_reset_tmp", m, "SELECT * FROM rc_tmp");
    if (mysql_stmt_execute(s))
        stmt_err("after_reset_stmt", s);
    mysql_stmt_close(s);
    line("ping_end", "rc %d", mysql_ping(m));
    mysql_close(m);
}

/* ---------------------------------------------------------- procedures */

static void scenario_procedures(void) {
    MYSQL *m = must_open("connect");
    must(m, "DROP PROCEDURE IF EXISTS capi_p");
    must(m, "CREATE PROCEDURE capi_p(IN a INT, OUT b INT, INOUT c VARCHAR(20)) "
            "BEGIN SELECT a AS first; SELECT a + 1 AS second, 'two' AS label; "
            "SET b = a * 2; SET c = CONCAT(c, '!'); END");
    MYSQL_STMT *s = prep("prepare", m, "CALL capi_p(?, ?, ?)", 0);
    int a = 20, b = 0;
    char c[20] = "hi";
    unsigned long clen = 2;
    MYSQL_BIND bind[3];
    memset(bind, 0, sizeof bind);
    bind[0].buffer_type = MYSQL_TYPE_LONG;
    bind[0].buffer = &a;
    bind[1].buffer_type = MYSQL_TYPE_LONG;
    bind[1].buffer = &b;
    bind[2].buffer_type = MYSQL_TYPE_STRING;
    bind[2].buffer = c;
    bind[2].buffer_length = sizeof c;
    bind[2].length = &clen;
    mysql_stmt_bind_param(s, bind);
    for (int round = 0; round < 2; round++) {
        const char *key = round ? "call2" : "call1";
        struct out o = {0};
        if (run(key, s, &o)) continue;
        int set = 0;
        do {
            char k[32];
            snprintf(k, sizeof k, "%s_set%d", key, set++);
            if (mysql_stmt_field_count(s) > 0) {
                line(k, "out_params %d", (m->server_status & 4096) != 0);
                print_fields(k, s);
                bind_out(&o, s);
                mysql_stmt_store_result(s);
                fetch_all(k, s, &o);
            } else {
                line(k, "affected %lld", (long long)mysql_stmt_affected_rows(s));
            }
            status(k, m);
        } while (mysql_stmt_next_result(s) == 0);
        if (mysql_stmt_errno(s)) stmt_err(key, s);
    }
    mysql_stmt_close(s);
    if (mysql_set_server_option(m, MYSQL_OPTION_MULTI_STATEMENTS_ON) == 0)
        q("text_call", m, "CALL capi_p(1, @b, @c); SELECT @b, @c");
    q("end", m, "SELECT 'done'");
    mysql_close(m);
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: %s HOST PORT USER PASSWORD DATABASE SCENARIO [USER2 PASSWORD2]\n",
                argv[0]);
        return 2;
    }
    host = argv[1];
    port = (unsigned int)atoi(argv[2]);
    user = argv[3];
    pass = argv[4];
    db = argv[5];
    user2 = argc > 7 ? argv[7] : user;
    pass2 = argc > 8 ? argv[8] : pass;
    const char *sc = argv[6];
    if (mysql_library_init(0, NULL, NULL)) return 2;
    if (!strcmp(sc, "cursors")) scenario_cursors();
    else if (!strcmp(sc, "change_user")) scenario_change_user();
    else if (!strcmp(sc, "bulk")) scenario_bulk();
    else if (!strcmp(sc, "progress")) scenario_progress();
    else if (!strcmp(sc, "status")) scenario_status();
    else if (!strcmp(sc, "metadata")) scenario_metadata();
    else if (!strcmp(sc, "long_data")) scenario_long_data();
    else if (!strcmp(sc, "charsets")) scenario_charsets();
    else if (!strcmp(sc, "commands")) scenario_commands();
    else if (!strcmp(sc, "procedures")) scenario_procedures();
    else {
        fprintf(stderr, "unknown scenario %s\n", sc);
        return 2;
    }
    line("done", "true");
    mysql_library_end();
    return 0;
}
