#!/usr/bin/python3
"""Holds many idle client connections open, for bench/idle_memory.sh.

Problem: to measure what an idle client connection costs the router, some
process has to open N connections, run one statement on each (so each
session is fully set up) and then keep them open, doing nothing, while the
router's memory is read.

Usage: idle_conns.py HOST PORT USER PASSWORD DB COUNT READY_FILE
Opens COUNT connections one by one, runs SELECT 1 on each, writes
"opened=N failed=M seconds=S first_error=..." to READY_FILE, then sleeps
until SIGTERM/SIGINT, when it closes every connection (COM_QUIT) and exits.
"""

import os
import resource
import signal
import sys
import time

import pymysql


def main():
    host, port, user, password, db, count, ready_file = sys.argv[1:8]
    port, count = int(port), int(count)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = count + 256
    if soft < want:
        new_soft = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    conns = []
    failed = 0
    first_error = ""
    t0 = time.monotonic()
    for _ in range(count):
        if stop:
            break
        try:
            c = pymysql.connect(
                host=host, port=port, user=user, password=password, database=db, connect_timeout=10
            )
            with c.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchall()
            conns.append(c)
        except pymysql.MySQLError as e:
            failed += 1
            if not first_error:
                first_error = str(e).replace("\n", " ")
    elapsed = time.monotonic() - t0

    with open(ready_file + ".tmp", "w") as f:
        f.write(f"opened={len(conns)} failed={failed} seconds={elapsed:.1f} first_error={first_error}\n")
    # Rename so the reader never sees a half-written file.
    os.replace(ready_file + ".tmp", ready_file)

    while not stop:
        time.sleep(0.2)
    for c in conns:
        try:
            c.close()
        except pymysql.MySQLError:
            pass


if __name__ == "__main__":
    main()
