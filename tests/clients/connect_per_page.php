<?php
// What WordPress does for every page: connect with a database, run one
// query, close. Usage: php connect_per_page.php HOST PORT USER PASSWORD DATABASE COUNT
// Prints "sessions<TAB>N" and "server_ids<TAB>[...]" (the distinct
// @@server_id values that answered).
[$_, $host, $port, $user, $pass, $db, $count] = $argv;
mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
$ids = [];
for ($i = 0; $i < (int)$count; $i++) {
    $m = new mysqli($host, $user, $pass, $db, (int)$port);
    $row = $m->query('SELECT @@server_id')->fetch_row();
    $ids[(int)$row[0]] = true;
    $m->close();
}
$ids = array_keys($ids);
sort($ids);
echo "sessions\t", (int)$count, "\n";
echo "server_ids\t", json_encode($ids), "\n";
