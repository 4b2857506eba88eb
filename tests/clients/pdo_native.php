<?php
// PDO with real server-side prepared statements (ATTR_EMULATE_PREPARES off),
// as modern PHP apps configure it. Prints one "key<TAB>json" line per check;
// tests/it/php_clients.rs runs it through sqlyard and direct and compares.
// Usage: php pdo_native.php HOST PORT USER PASSWORD DATABASE

[$_, $host, $port, $user, $pass, $db] = $argv;

function emit(string $key, $value): void {
    echo $key, "\t", json_encode($value, JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION), "\n";
}

$pdo = new PDO("mysql:host=$host;port=$port;dbname=$db;charset=utf8mb4", $user, $pass, [
    PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
    PDO::ATTR_EMULATE_PREPARES => false,
    PDO::ATTR_STRINGIFY_FETCHES => false,
    PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
]);
emit('emulate_prepares', $pdo->getAttribute(PDO::ATTR_EMULATE_PREPARES));

$pdo->exec('DROP TABLE IF EXISTS pdo_items');
$pdo->exec('CREATE TABLE pdo_items (
    id INT AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(50) CHARACTER SET utf8mb4 NOT NULL UNIQUE,
    qty INT NOT NULL,
    price DECIMAL(8,2) NULL,
    ratio DOUBLE NULL,
    note TEXT NULL,
    raw VARBINARY(8) NULL,
    created DATETIME NOT NULL
)');

// One prepared INSERT executed many times.
$ins = $pdo->prepare('INSERT INTO pdo_items (name, qty, price, ratio, note, raw, created) VALUES (?, ?, ?, ?, ?, ?, ?)');
$rows = [
    ['apple', 5, '1.25', 0.5, null, "\x00\xff", '2024-01-02 03:04:05'],
    ["O'Reilly \"quoted\" \\ back", 0, null, null, 'multi
line', null, '2024-01-03 00:00:00'],
    ['naïve 日本 🎉', -7, '99999.99', -1.5e10, str_repeat('n', 1000), '', '1999-12-31 23:59:59'],
];
foreach ($rows as $i => $r) {
    $ins->bindValue(1, $r[0], PDO::PARAM_STR);
    $ins->bindValue(2, $r[1], PDO::PARAM_INT);
    $ins->bindValue(3, $r[2], $r[2] === null ? PDO::PARAM_NULL : PDO::PARAM_STR);
    $ins->bindValue(4, $r[3], $r[3] === null ? PDO::PARAM_NULL : PDO::PARAM_STR);
    $ins->bindValue(5, $r[4], $r[4] === null ? PDO::PARAM_NULL : PDO::PARAM_STR);
    $ins->bindValue(6, $r[5], $r[5] === null ? PDO::PARAM_NULL : PDO::PARAM_LOB);
    $ins->bindValue(7, $r[6], PDO::PARAM_STR);
    $ins->execute();
    emit("insert_$i.rowcount", $ins->rowCount());
    emit("insert_$i.last_id", $pdo->lastInsertId());
}
$ins = null;

// Named parameters, an int bound for LIMIT (only legal with real prepares).
$sel = $pdo->prepare('SELECT id, name, qty, price, ratio, note IS NULL AS no_note, HEX(raw) AS raw_hex, created
                      FROM pdo_items WHERE qty >= :min ORDER BY id LIMIT :lim');
$sel->bindValue(':min', -100, PDO::PARAM_INT);
$sel->bindValue(':lim', 10, PDO::PARAM_INT);
$sel->execute();
emit('select_all', $sel->fetchAll());
emit('select_columns', $sel->columnCount());
$meta = $sel->getColumnMeta(2);
emit('meta_qty', [$meta['name'], $meta['native_type'], $meta['pdo_type']]);
// Same statement, other parameters.
$sel->bindValue(':min', 1, PDO::PARAM_INT);
$sel->bindValue(':lim', 1, PDO::PARAM_INT);
$sel->execute();
emit('select_min1', $sel->fetchAll());

// Positional parameters passed to execute(), unicode round trip.
$one = $pdo->prepare('SELECT name, CHAR_LENGTH(name) AS chars, LENGTH(name) AS bytes FROM pdo_items WHERE name = ?');
$one->execute(['naïve 日本 🎉']);
emit('unicode', $one->fetch());
$one->execute(['nobody']);
emit('no_row', $one->fetch());

// A statement with no parameters and several types of expression.
$expr = $pdo->prepare("SELECT 1 AS i, 2.5 AS d, 'x' AS s, NULL AS n, CAST(3 AS UNSIGNED) AS u, 1e3 AS f");
$expr->execute();
emit('expr', $expr->fetch());

// Errors: bad SQL fails at prepare time with real prepares.
try {
    $pdo->prepare('SELEC nonsense FROM');
    emit('bad_sql', 'no error');
} catch (PDOException $e) {
    emit('bad_sql', [$e->errorInfo[0], $e->errorInfo[1]]);
}
// A constraint violation at execute time.
try {
    $dup = $pdo->prepare('INSERT INTO pdo_items (name, qty, created) VALUES (?, ?, NOW())');
    $dup->execute(['apple', 1]);
    emit('duplicate', 'no error');
} catch (PDOException $e) {
    emit('duplicate', [$e->errorInfo[0], $e->errorInfo[1]]);
}
// A wrong number of parameters is caught by PDO itself.
try {
    $few = $pdo->prepare('SELECT ? + ?');
    $few->execute([1]);
    emit('too_few_params', 'no error');
} catch (PDOException $e) {
    emit('too_few_params', $e->errorInfo[0]);
}

// Transactions.
$pdo->beginTransaction();
emit('in_tx', $pdo->inTransaction());
$t = $pdo->prepare('INSERT INTO pdo_items (name, qty, created) VALUES (?, ?, NOW())');
$t->execute(['rolled back', 1]);
$pdo->rollBack();
emit('after_rollback', (int)$pdo->query("SELECT COUNT(*) FROM pdo_items WHERE name = 'rolled back'")->fetchColumn());
$pdo->beginTransaction();
$t->execute(['committed', 2]);
$pdo->commit();
emit('after_commit', (int)$pdo->query("SELECT COUNT(*) FROM pdo_items WHERE name = 'committed'")->fetchColumn());
emit('in_tx_after', $pdo->inTransaction());

// Many statements prepared and dropped: none may leak or mix up ids.
$sum = 0;
for ($i = 0; $i < 60; $i++) {
    $s = $pdo->prepare("SELECT ? * $i AS v");
    $s->execute([2]);
    $sum += (int)$s->fetchColumn();
    $s = null;
}
emit('many_prepares_sum', $sum);

// Two statements open at once, interleaved.
$a = $pdo->prepare('SELECT name FROM pdo_items WHERE id = ?');
$b = $pdo->prepare('SELECT qty FROM pdo_items WHERE id = ?');
$a->execute([1]);
$b->execute([3]);
emit('interleaved', [$a->fetchColumn(), $b->fetchColumn()]);

// A larger result through a prepared statement.
$big = $pdo->prepare('SELECT seq, REPEAT(CHAR(65 + seq % 26), ?) AS pad FROM seq_1_to_2000');
$big->execute([300]);
$count = 0;
$bytes = 0;
while ($row = $big->fetch()) {
    $count++;
    $bytes += strlen($row['pad']);
}
emit('big', [$count, $bytes]);

emit('done', true);
