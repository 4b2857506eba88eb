<?php
// Prepares, executes and closes N distinct statements on one mysqli
// connection, as an application that builds its statements does.
// Usage: php prepare_many.php HOST PORT USER PASSWORD DB N
// Prints "ok<TAB>N" when every statement returned its own value.
[$_, $host, $port, $user, $pw, $db, $n] = $argv;
mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
$m = new mysqli($host, $user, $pw, $db, (int)$port);
$ok = 0;
for ($i = 0; $i < (int)$n; $i++) {
    $st = $m->prepare("SELECT ? + $i");
    $one = 1;
    $st->bind_param('i', $one);
    $st->execute();
    $st->bind_result($v);
    $st->fetch();
    if ((int)$v === 1 + $i) {
        $ok++;
    }
    $st->close();
}
$m->close();
echo "ok\t$ok\n";
