<?php
// Sends one large parameter in a server-side prepared statement, as an
// application storing a file in a BLOB does: SELECT LENGTH(?) with a
// string of N bytes (one COM_STMT_EXECUTE packet of about N bytes).
// Usage: php -d memory_limit=-1 big_param.php HOST PORT USER PASSWORD N
// Prints "ok<TAB>LENGTH" or "err<TAB>ERRNO<TAB>MESSAGE".
[$_, $host, $port, $user, $pw, $n] = $argv;
mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
try {
    $m = new mysqli($host, $user, $pw, '', (int)$port);
    $st = $m->prepare('SELECT LENGTH(?)');
    $big = str_repeat('x', (int)$n);
    $st->bind_param('s', $big);
    $st->execute();
    $st->bind_result($len);
    $st->fetch();
    echo "ok\t$len\n";
    $st->close();
    $m->close();
} catch (mysqli_sql_exception $e) {
    echo "err\t", $e->getCode(), "\t", str_replace("\n", ' ', $e->getMessage()), "\n";
}
