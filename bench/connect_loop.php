<?php
// One PHP worker of bench/connect.sh: what WordPress does for every page,
// in a loop for SECONDS: connect with a database, run one SELECT, close.
// Usage: php connect_loop.php HOST PORT USER PASSWORD DATABASE SECONDS
// Prints "sessions<TAB>N<TAB>errors<TAB>E".
[$_, $host, $port, $user, $pass, $db, $secs] = $argv;
mysqli_report(MYSQLI_REPORT_OFF);
$end = microtime(true) + (float)$secs;
$n = 0;
$errors = 0;
while (microtime(true) < $end) {
    $m = @new mysqli($host, $user, $pass, $db, (int)$port);
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
echo "sessions\t", $n, "\terrors\t", $errors, "\n";
