<?php

// A webhook receiver for the tests, run by PHP's built-in server (php -S ... receiver.php):
// it records every POST as received (method, URI, headers, raw body) into
// $RECEIVER_DIR/calls, answers with the next status of $RECEIVER_DIR/statuses (then
// 200), and serves $RECEIVER_DIR/files to GET (the ownership file).
declare(strict_types=1);

$dir = (string) getenv('RECEIVER_DIR');
if ($_SERVER['REQUEST_METHOD'] === 'GET') {
    $file = $dir . '/files/' . sha1((string) parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH));
    if (is_file($file)) {
        readfile($file);
    } else {
        http_response_code(404);
    }
    return true;
}
$headers = [];
foreach (getallheaders() as $name => $value) {
    $headers[] = [$name, $value];
}
$call = [
    'method' => $_SERVER['REQUEST_METHOD'],
    'target' => $_SERVER['REQUEST_URI'],
    'headers' => $headers,
    'body' => base64_encode((string) file_get_contents('php://input')),
];
$statuses = is_file("{$dir}/statuses") ? json_decode((string) file_get_contents("{$dir}/statuses"), true) : [];
$status = array_shift($statuses) ?? 200;
file_put_contents("{$dir}/statuses", json_encode($statuses));
file_put_contents(sprintf('%s/calls/%020d.json', $dir, hrtime(true)), json_encode($call));
http_response_code($status);
return true;
