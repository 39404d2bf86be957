"""What the tests share: the running service (started by clients/test.sh), an account on
it, and a real HTTP receiver on 127.0.0.1 that records every call."""

import http.server
import os
import threading
import time

import pytest

from postbode import Client


def _service():
    url = os.environ.get("POSTBODE_TEST_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("POSTBODE_TEST_URL is not set: run the suites with bash clients/test.sh")
        pytest.skip("no running service: run bash clients/test.sh")
    return url, os.environ["POSTBODE_TEST_ADMIN_TOKEN"]


@pytest.fixture(scope="session")
def service_url():
    return _service()[0]


@pytest.fixture(scope="session")
def operator():
    url, token = _service()
    return Client(token, url)


@pytest.fixture(scope="session")
def account(operator):
    return operator.accounts.create("python client tests")


@pytest.fixture(scope="session")
def client(account, service_url):
    return Client(account["api_key"], service_url)


def eventually(what, check, timeout=30.0):
    """Polls ``check`` until it returns something truthy (a hang guard, not a speed test)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting for " + what)
        time.sleep(0.02)


class Call:
    def __init__(self, method, target, headers, body):
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body

    def header(self, name):
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    def with_header(self, name, value):
        headers = [(n, v) for n, v in self.headers if n.lower() != name.lower()] + [(name, value)]
        return Call(self.method, self.target, headers, self.body)


class Receiver:
    """Answers each POST with the next status of ``statuses`` (then 200) and serves
    ``files`` to GET, as a webhook's receiver would."""

    def __init__(self):
        self.calls = []
        self.statuses = []
        self.files = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.calls.append(Call("POST", self.path, list(self.headers.items()), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                content = receiver.files.get(self.path)
                self.send_response(200 if content is not None else 404)
                data = (content or "").encode()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/hooks/receive.php" % self.port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count, matching=lambda call: True):
        def enough():
            with self.lock:
                found = [c for c in self.calls if matching(c)]
            return found if len(found) >= count else None

        return eventually("%d calls at the receiver" % count, enough)


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
