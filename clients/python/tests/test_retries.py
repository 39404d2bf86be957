"""Retries against the real service behind a proxy that answers the first calls itself
with 429 or 503 and ``Retry-After``: a fault the service only shows when its disk is
full, so the proxy stands in for the network between."""

import http.client
import http.server
import threading
import time
import urllib.parse

import pytest

from postbode import Client, RateLimited, Unavailable


class FlakyProxy:
    def __init__(self, upstream):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.failures = []  # (status, retry_after) for the next requests
        self.seen = []  # (time, method, path)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def handle_any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                proxy.seen.append((time.monotonic(), self.command, self.path))
                if proxy.failures:
                    status, retry_after = proxy.failures.pop(0)
                    data = b'{"type":"/problems/unavailable","title":"Unavailable","status":%d,"detail":"try later"}' % status
                    self.send_response(status)
                    self.send_header("Content-Type", "application/problem+json")
                    self.send_header("Retry-After", retry_after)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_any

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def proxy(service_url):
    proxy = FlakyProxy(service_url)
    yield proxy
    proxy.server.shutdown()
    proxy.server.server_close()


def test_a_get_is_retried_after_the_retry_after_it_was_given(proxy, account):
    proxy.failures = [(503, "1")]
    client = Client(account["api_key"], proxy.url)
    assert client.accounts.current()["id"] == account["id"]
    (first, _, _), (second, _, _) = proxy.seen
    assert second - first >= 1.0, "the retry waited the Retry-After of 1 s"


def test_an_event_with_an_idempotency_key_is_retried_and_sent_once(proxy, account, client):
    proxy.failures = [(429, "0"), (502, "0")]
    flaky = Client(account["api_key"], proxy.url)
    accepted = flaky.events.send("order.retried", {"n": 1}, idempotency_key="retry-once")
    assert len(proxy.seen) == 3
    assert client.events.get(accepted["id"])["type"] == "order.retried"


def test_a_create_without_an_idempotency_key_is_not_retried(proxy, account):
    proxy.failures = [(503, "0")]
    flaky = Client(account["api_key"], proxy.url)
    with pytest.raises(Unavailable) as refused:
        flaky.events.send("order.not-retried", {"n": 1})
    assert refused.value.retry_after == 0
    assert len(proxy.seen) == 1


def test_a_retry_after_longer_than_allowed_is_not_waited_for(proxy, account):
    proxy.failures = [(429, "3600")]
    flaky = Client(account["api_key"], proxy.url, max_retry_wait=5)
    with pytest.raises(RateLimited) as refused:
        flaky.accounts.current()
    assert refused.value.retry_after == 3600 and len(proxy.seen) == 1


def test_retries_stop_after_max_retries(proxy, account):
    proxy.failures = [(503, "0")] * 3
    flaky = Client(account["api_key"], proxy.url, max_retries=2)
    with pytest.raises(Unavailable):
        flaky.accounts.current()
    assert len(proxy.seen) == 3
