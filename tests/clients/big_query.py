"""Sends one large string in a query, as PyMySQL does with parameters
(interpolated on the client: one COM_QUERY packet of about N bytes):
SELECT LENGTH(%s) with a string of N bytes.
Usage: python3 big_query.py HOST PORT USER PASSWORD N
Prints "ok<TAB>LENGTH" or "err<TAB>ERRNO<TAB>MESSAGE"."""
import sys

import pymysql

host, port, user, pw, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
try:
    c = pymysql.connect(host=host, port=port, user=user, password=pw, max_allowed_packet=1 << 30)
    with c.cursor() as cur:
        cur.execute("SELECT LENGTH(%s)", ("x" * n,))
        print("ok\t%d" % cur.fetchone()[0])
    c.close()
except pymysql.err.MySQLError as e:
    code = e.args[0] if e.args else 0
    msg = e.args[1] if len(e.args) > 1 else str(e)
    print("err\t%s\t%s" % (code, str(msg).replace("\n", " ")))
