"""PyMySQL on sqlyard's admin port: log in as the admin, run SHOW SERVERS.
Prints "columns<TAB>a,b,c" (the first three column names), one
"server<TAB>address<TAB>role" line per row, then "done".
Usage: /usr/bin/python3 admin_pymysql.py HOST PORT USER PASSWORD
"""
import sys

import pymysql

host, port, user, password = sys.argv[1:5]
conn = pymysql.connect(host=host, port=int(port), user=user, password=password)
with conn.cursor() as cur:
    cur.execute("SHOW SERVERS")
    names = [d[0] for d in cur.description]
    print("columns\t" + ",".join(names[:3]))
    for row in cur.fetchall():
        rec = dict(zip(names, row))
        print("server\t%s\t%s" % (rec["address"], rec["role"]))
conn.close()
print("done")
