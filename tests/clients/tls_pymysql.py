"""PyMySQL over TLS, the certificate and host name verified against a CA
file. Prints "key<TAB>json" lines: the TLS version and cipher the socket
negotiated, the SHA-256 of the certificate the server presented, and the
server id read through the connection (or the error).
Usage: /usr/bin/python3 tls_pymysql.py HOST PORT USER PASSWORD CA_FILE
"""
import hashlib
import json
import sys

import pymysql

host, port, user, password, ca = sys.argv[1:6]


def emit(key, value):
    print(key + "\t" + json.dumps(value), flush=True)


try:
    conn = pymysql.connect(
        host=host,
        port=int(port),
        user=user,
        password=password,
        ssl_ca=ca,
        ssl_verify_cert=True,
        ssl_verify_identity=True,
    )
    sock = conn._sock
    emit("version", sock.version())
    emit("cipher", sock.cipher()[0])
    emit("cert_sha256", hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest())
    with conn.cursor() as c:
        c.execute("SELECT @@server_id")
        emit("server_id", c.fetchone()[0])
    conn.close()
except Exception as e:  # the test reads the error
    emit("error", str(e))
