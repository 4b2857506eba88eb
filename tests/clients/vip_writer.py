"""An application writing through a virtual IP, as PyMySQL does: one
connection, one autocommit INSERT at a time; on any error it closes the
connection and connects again (1 s connect timeout, 2 s read timeout).
Prints "ok<TAB>ID<TAB>UNIX_MS" for every acknowledged row and
"err<TAB>UNIX_MS<TAB>MESSAGE" for every failure, flushed at once, until it
is killed. Rows go to TABLE (id INT PRIMARY KEY), ids counting from 1.
Usage: /usr/bin/python3 vip_writer.py HOST PORT USER PASSWORD TABLE
"""
import sys
import time

import pymysql

host, port, user, password, table = sys.argv[1:6]


def now_ms():
    return int(time.time() * 1000)


conn = None
next_id = 1
while True:
    try:
        if conn is None:
            conn = pymysql.connect(host=host, port=int(port), user=user,
                                   password=password, autocommit=True,
                                   connect_timeout=1, read_timeout=2,
                                   write_timeout=2)
        with conn.cursor() as cur:
            cur.execute("INSERT INTO %s (id) VALUES (%d)" % (table, next_id))
        print("ok\t%d\t%d" % (next_id, now_ms()), flush=True)
        next_id += 1
        time.sleep(0.02)
    except Exception as e:  # any failure: report, reconnect, go on
        print("err\t%d\t%s" % (now_ms(), str(e).replace("\n", " ")), flush=True)
        # An INSERT whose answer was lost may have committed: never reuse its id.
        next_id += 1
        try:
            if conn is not None:
                conn.close()
        except Exception:
            pass
        conn = None
        time.sleep(0.05)
