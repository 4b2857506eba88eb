<?php
// PHP mysqli on sqlyard's admin port: log in as the admin, run SHOW SERVERS.
// Prints "columns<TAB>a,b,c" (the first three column names), one
// "server<TAB>address<TAB>role" line per row, then "done".
// Usage: php admin_mysqli.php HOST PORT USER PASSWORD
mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
[$_, $host, $port, $user, $password] = $argv;
$db = new mysqli($host, $user, $password, '', (int)$port);
$res = $db->query('SHOW SERVERS');
$names = array_map(fn($f) => $f->name, $res->fetch_fields());
echo "columns\t" . implode(',', array_slice($names, 0, 3)) . "\n";
while ($row = $res->fetch_assoc()) {
    echo "server\t" . $row['address'] . "\t" . $row['role'] . "\n";
}
$res->free();
$db->close();
echo "done\n";
