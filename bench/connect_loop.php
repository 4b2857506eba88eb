<?php
// One PHP worker of bench/connect.sh: what WordPress does for every page,
// in a loop for SECONDS: connect with a database, run one SELECT, close.
// Usage: php connect_loop.php HOST PORT USER PASSWORD DATABASE SECONDS [CA]
// With CA (a PEM file), over TLS with the server certificate verified.
// Prints "sessions<TAB>N<TAB>errors<TAB>E<TAB>cpu_us<TAB>C", C being this
// worker's own CPU time (user + system, from getrusage) over the whole run.
[$_, $host, $port, $user, $pass, $db, $secs] = $argv;
$ca = $argv[7] ?? null;
mysqli_report(MYSQLI_REPORT_OFF);
$end = microtime(true) + (float)$secs;
$n = 0;
$errors = 0;
while (microtime(true) < $end) {
    if ($ca === null) {
        $m = @new mysqli($host, $user, $pass, $db, (int)$port);
    } else {
        $m = mysqli_init();
        $m->options(MYSQLI_OPT_SSL_VERIFY_SERVER_CERT, true);
        $m->ssl_set(null, null, $ca, null, null);
        @$m->real_connect($host, $user, $pass, $db, (int)$port, null, MYSQLI_CLIENT_SSL);
    }
    if ($m->connect_errno) {
        $errors++;
        continue;
    }
    if ($m->query('SELECT 1') === false) {
        $errors++;
    }
    $m->close();
    $n++;
}
$ru = getrusage();
$cpu = ($ru["ru_utime.tv_sec"] + $ru["ru_stime.tv_sec"]) * 1000000
    + $ru["ru_utime.tv_usec"] + $ru["ru_stime.tv_usec"];
echo "sessions\t", $n, "\terrors\t", $errors, "\tcpu_us\t", $cpu, "\n";
