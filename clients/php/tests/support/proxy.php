<?php

// A proxy for the retry tests, run by PHP's built-in server: it answers the first
// requests with the failures in $PROXY_DIR/failures ([status, retry-after] each) and
// forwards the rest to $PROXY_UPSTREAM; it logs when each request came in $PROXY_DIR/seen.
declare(strict_types=1);

$dir = (string) getenv('PROXY_DIR');
file_put_contents("{$dir}/seen", sprintf("%.6f\n", microtime(true)), FILE_APPEND);
$failures = json_decode((string) file_get_contents("{$dir}/failures"), true) ?: [];
$failure = array_shift($failures);
file_put_contents("{$dir}/failures", json_encode($failures));
if ($failure !== null) {
    [$status, $retryAfter] = $failure;
    http_response_code($status);
    header('Content-Type: application/problem+json');
    header("Retry-After: {$retryAfter}");
    echo json_encode(['type' => '/problems/unavailable', 'title' => 'Unavailable', 'status' => $status, 'detail' => 'try later']);
    return true;
}
$headers = [];
foreach (getallheaders() as $name => $value) {
    if (strtolower($name) !== 'host') {
        $headers[] = "{$name}: {$value}";
    }
}
$handle = curl_init(getenv('PROXY_UPSTREAM') . $_SERVER['REQUEST_URI']);
curl_setopt_array($handle, [
    CURLOPT_CUSTOMREQUEST => $_SERVER['REQUEST_METHOD'],
    CURLOPT_HTTPHEADER => $headers,
    CURLOPT_RETURNTRANSFER => true,
]);
$body = (string) file_get_contents('php://input');
if ($body !== '') {
    curl_setopt($handle, CURLOPT_POSTFIELDS, $body);
}
$answer = (string) curl_exec($handle);
http_response_code((int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE));
header('Content-Type: ' . (curl_getinfo($handle, CURLINFO_CONTENT_TYPE) ?: 'application/json'));
echo $answer;
return true;
