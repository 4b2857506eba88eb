<?php
// PHP mysqli (what WordPress uses): queries, prepared statements with
// bind_param, multi_query, transactions with rollback, insert_id and the
// small commands (ping, select_db, change_user, kill). Prints one
// "key<TAB>json" line per check; tests/it/php_clients.rs compares the output
// through sqlyard with a direct connection.
// Usage: php mysqli.php HOST PORT USER PASSWORD DATABASE

[$_, $host, $port, $user, $pass, $db] = $argv;
$port = (int)$port;

function emit(string $key, $value): void {
    echo $key, "\t", json_encode($value, JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION), "\n";
}

mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
$m = new mysqli($host, $user, $pass, $db, $port);
$m->set_charset('utf8mb4');
emit('charset', $m->character_set_name());

// Plain queries.
$m->query('DROP TABLE IF EXISTS mi_posts');
$m->query('CREATE TABLE mi_posts (
    id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    title VARCHAR(100) CHARACTER SET utf8mb4 NOT NULL,
    views INT NOT NULL DEFAULT 0,
    body LONGTEXT NULL
)');
$m->query("INSERT INTO mi_posts (title, views) VALUES ('Hello world', 3), ('Second', 0)");
emit('multi_row_insert', [$m->affected_rows, $m->insert_id]);
$title = $m->real_escape_string("It's a \"post\" \\ with 🎉");
$m->query("INSERT INTO mi_posts (title, body) VALUES ('$title', REPEAT('b', 70000))");
emit('escaped_insert_id', $m->insert_id);
emit('last_insert_id_fn', $m->query('SELECT LAST_INSERT_ID() AS l')->fetch_assoc());
$r = $m->query('SELECT id, title, views, LENGTH(body) AS body_len FROM mi_posts ORDER BY id');
emit('select_rows', $r->num_rows);
emit('select_all', $r->fetch_all(MYSQLI_ASSOC));
$fields = array_map(fn($f) => [$f->name, $f->type, $f->length], $r->fetch_fields());
emit('select_fields', $fields);
$r->free();
$m->query("UPDATE mi_posts SET views = views + 1 WHERE views < 10");
emit('update_affected', $m->affected_rows);
emit('update_info', $m->info);

// Prepared statements with bind_param.
$ins = $m->prepare('INSERT INTO mi_posts (title, views, body) VALUES (?, ?, ?)');
$t = ''; $v = 0; $b = null;
$ins->bind_param('sis', $t, $v, $b);
$ids = [];
foreach ([['prep one', 10, 'x'], ['prep two 日本', 20, null], ['', -1, '']] as [$t, $v, $b]) {
    $ins->execute();
    $ids[] = [$ins->affected_rows, $ins->insert_id];
}
emit('prepared_inserts', $ids);
emit('conn_insert_id_after_prepared', $m->insert_id);
$ins->close();

$sel = $m->prepare('SELECT id, title, views, body FROM mi_posts WHERE views >= ? AND title <> ? ORDER BY id');
$min = 10; $not = 'nothing';
$sel->bind_param('is', $min, $not);
$sel->execute();
emit('prepared_select', $sel->get_result()->fetch_all(MYSQLI_ASSOC));
$min = -5;
$sel->execute();
$sel->store_result();
emit('prepared_select_rows', $sel->num_rows);
$sel->bind_result($id, $tt, $vv, $bb);
$got = [];
while ($sel->fetch()) {
    $got[] = [$id, $tt, $vv, $bb === null ? null : strlen($bb)];
}
emit('prepared_bind_result', $got);
$sel->close();

// Long data sent in pieces (COM_STMT_SEND_LONG_DATA).
$ld = $m->prepare('SELECT LENGTH(?) AS len, MD5(?) AS md5');
$null = null;
$ld->bind_param('bb', $null, $null);
$ld->send_long_data(0, str_repeat('a', 100000));
$ld->send_long_data(0, str_repeat('b', 50000));
$ld->send_long_data(1, 'abc');
$ld->execute();
emit('long_data', $ld->get_result()->fetch_assoc());
$ld->close();

// multi_query: several result sets and an update in one round trip.
$m->multi_query("SELECT 1 AS a; SELECT 'two' AS b, NULL AS c; UPDATE mi_posts SET views = 100 WHERE id = 1; SELECT views FROM mi_posts WHERE id = 1");
$sets = [];
do {
    if ($res = $m->store_result()) {
        $sets[] = $res->fetch_all(MYSQLI_ASSOC);
        $res->free();
    } else {
        $sets[] = ['affected' => $m->affected_rows];
    }
} while ($m->more_results() && $m->next_result());
emit('multi_query', $sets);
// An error in the middle of a multi_query.
try {
    $m->multi_query("SELECT 'ok' AS first; SELECT * FROM no_such_table_mi; SELECT 'never'");
    $sets = [];
    do {
        if ($res = $m->store_result()) {
            $sets[] = $res->fetch_all(MYSQLI_ASSOC);
            $res->free();
        }
    } while ($m->more_results() && $m->next_result());
    emit('multi_query_error', $sets);
} catch (mysqli_sql_exception $e) {
    emit('multi_query_error', [$sets ?? null, $e->getCode(), $e->getSqlState()]);
}
emit('after_multi_error', $m->query('SELECT 42 AS x')->fetch_assoc());

// Transactions.
$m->begin_transaction();
$m->query("INSERT INTO mi_posts (title) VALUES ('rollback me')");
$rolled_id = $m->insert_id;
emit('tx_insert_id_positive', $rolled_id > 0);
$m->rollback();
emit('after_rollback', $m->query("SELECT COUNT(*) AS n FROM mi_posts WHERE title = 'rollback me'")->fetch_assoc());
$m->autocommit(false);
$m->query("INSERT INTO mi_posts (title) VALUES ('commit me')");
$m->commit();
$m->autocommit(true);
emit('after_commit', $m->query("SELECT COUNT(*) AS n FROM mi_posts WHERE title = 'commit me'")->fetch_assoc());
$m->begin_transaction();
$m->query("UPDATE mi_posts SET views = -99 WHERE id = 2");
emit('in_tx_read_own_write', $m->query('SELECT views FROM mi_posts WHERE id = 2')->fetch_assoc());
$m->rollback();
emit('after_rollback_update', $m->query('SELECT views FROM mi_posts WHERE id = 2')->fetch_assoc());

// Errors.
try {
    $m->query('SELECT * FROM no_such_table_mi');
} catch (mysqli_sql_exception $e) {
    emit('error', [$e->getCode(), $e->getSqlState()]);
}
try {
    $m->prepare('SELEC broken');
} catch (mysqli_sql_exception $e) {
    emit('prepare_error', [$e->getCode(), $e->getSqlState()]);
}

// Session state: user variables, temp tables, SQL_CALC_FOUND_ROWS.
$m->query('SET @wp_var = 17');
$m->query('CREATE TEMPORARY TABLE mi_tmp (x INT)');
$m->query('INSERT INTO mi_tmp VALUES (1), (2), (3)');
emit('session_state', $m->query('SELECT @wp_var AS v, (SELECT SUM(x) FROM mi_tmp) AS s')->fetch_assoc());
$m->query('SELECT SQL_CALC_FOUND_ROWS id FROM mi_posts ORDER BY id LIMIT 2');
emit('found_rows', $m->query('SELECT FOUND_ROWS() AS f')->fetch_assoc());

// Small commands.
emit('ping', $m->ping());
$m->select_db('mysql');
emit('select_db', $m->query('SELECT DATABASE() AS d')->fetch_assoc());
$m->select_db($db);
emit('stat_has_uptime', str_contains($m->stat(), 'Uptime'));
$m->change_user($user, $pass, $db);
emit('after_change_user_var', $m->query('SELECT @wp_var AS v')->fetch_assoc());
try {
    $m->query('SELECT * FROM mi_tmp');
    emit('after_change_user_tmp', 'still there');
} catch (mysqli_sql_exception $e) {
    emit('after_change_user_tmp', $e->getCode());
}

// mysqli::kill (COM_PROCESS_KILL) of another connection of the same user.
$other = new mysqli($host, $user, $pass, $db, $port);
emit('other_works', $other->query('SELECT 1 AS one')->fetch_assoc());
emit('kill', $m->kill($other->thread_id));
usleep(200000);
try {
    $other->query('SELECT 1');
    emit('killed_conn_query', 'still works');
} catch (mysqli_sql_exception $e) {
    emit('killed_conn_query', 'failed');
}
emit('killer_still_works', $m->query('SELECT 2 AS two')->fetch_assoc());

$m->close();
emit('done', true);
