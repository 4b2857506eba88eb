"""PyMySQL (pure-Python driver) through sqlyard: queries, parameters,
transactions, executemany, unicode/emoji, errors and session state.
Prints one "key<TAB>json" line per check; tests/it/python_client.rs runs it
through sqlyard and direct and compares.
Usage: /usr/bin/python3 pymysql_client.py HOST PORT USER PASSWORD DATABASE [SECTION]
SECTION: "main" (the default) or "multi" (multi-statements on a connection
that follows one without them).
"""
import datetime
import decimal
import json
import sys

import pymysql


def emit(key, value):
    def default(v):
        if isinstance(v, decimal.Decimal):
            return "Decimal(%s)" % v
        if isinstance(v, (datetime.datetime, datetime.date, datetime.timedelta)):
            return "%s(%s)" % (type(v).__name__, v)
        if isinstance(v, (bytes, bytearray)):
            return "bytes(%s)" % v.hex()
        raise TypeError(repr(v))

    print(key + "\t" + json.dumps(value, default=default, ensure_ascii=False, sort_keys=True), flush=True)


host, port, user, password, db = sys.argv[1:6]
section = sys.argv[6] if len(sys.argv) > 6 else "main"


def connect(**extra):
    return pymysql.connect(
        host=host, port=int(port), user=user, password=password, database=db, charset="utf8mb4", **extra
    )


if section == "multi":
    # A session without CLIENT.MULTI_STATEMENTS that leaves session state
    # behind, then one with it (through sqlyard, likely on the same pooled
    # backend connection).
    plain = connect()
    pc = plain.cursor()
    pc.execute("CREATE TABLE IF NOT EXISTS py_multi (x INT)")
    pc.execute("SET @left_behind = 1")
    pc.execute("SET SESSION sql_mode = 'ANSI_QUOTES'")
    try:
        pc.execute("SELECT 1; SELECT 2")
        emit("plain_multi", "accepted")
    except pymysql.err.ProgrammingError as e:
        emit("plain_multi", e.args[0])
    plain.close()
    for attempt in range(2):
        multi = connect(client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
        mc = multi.cursor()
        try:
            mc.execute("SELECT 1; SELECT 'b', 2; UPDATE py_multi SET x = 1 WHERE 0 = 1")
            sets = [mc.fetchall()]
            while mc.nextset():
                sets.append(mc.fetchall())
            emit("multi_%d" % attempt, [list(map(list, s)) for s in sets])
        except pymysql.err.MySQLError as e:
            emit("multi_%d" % attempt, ["error", e.args[0]])
        mc.execute("SELECT @left_behind, @@session.sql_mode")
        emit("multi_%d_state" % attempt, list(mc.fetchone()))
        multi.close()
    emit("done", True)
    sys.exit(0)

conn = pymysql.connect(
    host=host,
    port=int(port),
    user=user,
    password=password,
    database=db,
    charset="utf8mb4",
    autocommit=True,
)
cur = conn.cursor()

# Plain queries and metadata.
cur.execute("SELECT 1 AS one, 'two' AS two, NULL AS nothing, 3.5 AS dec_val, 1e2 AS dbl")
emit("simple", [list(cur.fetchone()), [d[0] for d in cur.description]])

cur.execute("DROP TABLE IF EXISTS py_people")
cur.execute(
    """CREATE TABLE py_people (
        id INT AUTO_INCREMENT PRIMARY KEY,
        name VARCHAR(100) CHARACTER SET utf8mb4 NOT NULL,
        age SMALLINT NULL,
        balance DECIMAL(12,2) NOT NULL DEFAULT 0,
        born DATE NULL,
        seen DATETIME(6) NULL,
        photo BLOB NULL
    )"""
)

# Parameters (client-side interpolation, PyMySQL's way), with tricky values.
rows = [
    ("Ada", 36, decimal.Decimal("10.50"), datetime.date(1815, 12, 10), None, b"\x00\x01\xff"),
    ("Bobby'); DROP TABLE py_people;--", None, decimal.Decimal("-3.00"), None,
     datetime.datetime(2024, 2, 29, 12, 34, 56, 789012), None),
    ("back\\slash \"dq\" \n newline", 0, decimal.Decimal("0"), None, None, b""),
]
for r in rows:
    n = cur.execute(
        "INSERT INTO py_people (name, age, balance, born, seen, photo) VALUES (%s, %s, %s, %s, %s, %s)", r
    )
    emit("insert_%d" % cur.lastrowid, [n, conn.insert_id()])

cur.execute("SELECT * FROM py_people ORDER BY id")
emit("all_rows", [list(r) for r in cur.fetchall()])
cur.execute("SELECT name FROM py_people WHERE age > %(min)s OR name = %(n)s ORDER BY id", {"min": 10, "n": "Ada"})
emit("named_params", cur.fetchall())
cur.execute("SELECT COUNT(*) FROM py_people WHERE name IN %s", [("Ada", "nobody", "x")])
emit("in_list", cur.fetchone())

# executemany: PyMySQL folds INSERT ... VALUES into one multi-row statement.
many = [("m%03d" % i, i, decimal.Decimal(i) / 4) for i in range(200)]
n = cur.executemany("INSERT INTO py_people (name, age, balance) VALUES (%s, %s, %s)", many)
emit("executemany_rows", [n, cur.rowcount])
emit("executemany_lastrowid", cur.lastrowid)
n = cur.executemany("UPDATE py_people SET age = age + 1 WHERE name = %s", [("m001",), ("m002",), ("nobody",)])
emit("executemany_update", n)
cur.execute("SELECT COUNT(*), SUM(age), SUM(balance) FROM py_people WHERE name LIKE 'm%%'")
emit("executemany_sum", list(cur.fetchone()))

# Unicode and emoji round trip (4-byte UTF-8), both as parameter and literal.
texts = ["日本語テキスト", "emoji 🎉🚀👩‍👩‍👧", "Ελληνικά", "mixed ñ ü ß ø", "𝕊𝕥𝕣𝕒𝕟𝕘𝕖"]
for t in texts:
    cur.execute("INSERT INTO py_people (name) VALUES (%s)", (t,))
cur.execute(
    "SELECT name, CHAR_LENGTH(name), LENGTH(name), HEX(name) FROM py_people WHERE id > %s ORDER BY id",
    (203,),
)
back = cur.fetchall()
emit("unicode_rows", [list(r) for r in back])
emit("unicode_equal", [r[0] for r in back] == texts)
cur.execute("SELECT '🎉' AS party, CHAR_LENGTH('🎉') AS len")
emit("emoji_literal", list(cur.fetchone()))

# Transactions with autocommit off.
conn.autocommit(False)
cur.execute("INSERT INTO py_people (name) VALUES ('tx rollback')")
conn.rollback()
cur.execute("SELECT COUNT(*) FROM py_people WHERE name = 'tx rollback'")
emit("after_rollback", cur.fetchone())
conn.commit()
cur.execute("INSERT INTO py_people (name) VALUES ('tx commit')")
conn.commit()
cur.execute("SELECT COUNT(*) FROM py_people WHERE name = 'tx commit'")
emit("after_commit", cur.fetchone())
conn.begin()
cur.execute("UPDATE py_people SET age = 99 WHERE name = 'Ada'")
cur.execute("SELECT age FROM py_people WHERE name = 'Ada'")
emit("in_tx_sees_own_write", cur.fetchone())
conn.rollback()
cur.execute("SELECT age FROM py_people WHERE name = 'Ada'")
emit("after_tx_rollback", cur.fetchone())
conn.commit()
conn.autocommit(True)

# Errors come back as the server's, and the connection stays usable.
try:
    cur.execute("SELECT * FROM no_such_table_py")
except pymysql.err.ProgrammingError as e:
    emit("error_missing_table", [e.args[0], type(e).__name__])
try:
    cur.execute("INSERT INTO py_people (id, name) VALUES (1, 'dup')")
except pymysql.err.IntegrityError as e:
    emit("error_duplicate", [e.args[0], type(e).__name__])
try:
    cur.execute("SELEC 1")
except pymysql.err.ProgrammingError as e:
    emit("error_syntax", e.args[0])
cur.execute("SELECT 'still usable'")
emit("after_errors", cur.fetchone())

# Session state across statements.
cur.execute("SET @py_var = 'kept'")
cur.execute("SET SESSION time_zone = '+05:30'")
cur.execute("SELECT @py_var, @@session.time_zone, CONVERT_TZ('2024-01-01 00:00:00', '+00:00', @@session.time_zone)")
emit("session_vars", list(cur.fetchone()))
conn.select_db("mysql")
cur.execute("SELECT DATABASE()")
emit("select_db", cur.fetchone())
conn.select_db(db)

# An unbuffered (streaming) cursor over a larger result.
ss = conn.cursor(pymysql.cursors.SSCursor)
ss.execute("SELECT seq, REPEAT('r', 500) FROM seq_1_to_5000")
count = 0
total = 0
for seq, pad in ss:
    count += 1
    total += seq + len(pad)
ss.close()
emit("streamed", [count, total])

conn.ping(reconnect=False)
emit("ping", True)
conn.close()

emit("done", True)
