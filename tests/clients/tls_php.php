<?php
// PHP mysqli and PDO over TLS, the server certificate verified against a
// CA file. Prints one "key<TAB>json" line per client: the server id read
// through the connection, or the error. tests/it/tls.rs runs it with the
// sandbox CA (both connect) and with another CA (both must fail).
// Usage: php tls_php.php HOST PORT USER PASSWORD CA_FILE

[$_, $host, $port, $user, $pass, $ca] = $argv;
$port = (int)$port;

function emit(string $key, $value): void {
    echo $key, "\t", json_encode($value), "\n";
}

mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
try {
    $m = mysqli_init();
    $m->options(MYSQLI_OPT_SSL_VERIFY_SERVER_CERT, true);
    $m->ssl_set(null, null, $ca, null, null);
    $m->real_connect($host, $user, $pass, null, $port, null, MYSQLI_CLIENT_SSL);
    $id = $m->query('SELECT @@server_id AS id')->fetch_assoc()['id'];
    emit('mysqli', ['ok' => (int)$id]);
    $m->close();
} catch (Throwable $e) {
    emit('mysqli', ['error' => $e->getMessage()]);
}

try {
    $pdo = new PDO("mysql:host=$host;port=$port", $user, $pass, [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::MYSQL_ATTR_SSL_CA => $ca,
        PDO::MYSQL_ATTR_SSL_VERIFY_SERVER_CERT => true,
    ]);
    $id = $pdo->query('SELECT @@server_id AS id')->fetch(PDO::FETCH_ASSOC)['id'];
    emit('pdo', ['ok' => (int)$id]);
} catch (Throwable $e) {
    emit('pdo', ['error' => $e->getMessage()]);
}
