"""One HTTP exchange with the API, retried where that is safe: the only place that
sends requests, builds URLs, reads problem documents and waits between attempts."""

from __future__ import annotations

import email.utils
import http.client
import json
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from typing import Any, Dict, Mapping, Optional

from ._operations import OPERATIONS
from ._version import __version__
from .errors import ApiError, ConnectionFailed, error_for

#: Answers worth another try: the service asks for patience or a proxy lost it.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Methods whose repetition has the effect of one request.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})


class Response:
    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def text(self) -> str:
        return self.body.decode("utf-8")


def query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return str(value)


def retry_after_seconds(value: Optional[str]) -> Optional[float]:
    """``Retry-After`` as seconds from now: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Transport:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float,
        max_retries: int,
        max_retry_wait: float,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait

    def call(
        self,
        operation: str,
        path_params: Optional[Mapping[str, str]] = None,
        *,
        query: Optional[Mapping[str, Any]] = None,
        json_body: Any = None,
        body: Optional[bytes] = None,
        content_type: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        idempotent: bool = False,
    ) -> Response:
        """Sends ``operation``. It is tried again on 429, 502, 503, 504 and lost connections
        when repeating it is safe: its method is idempotent, or ``idempotent`` says the
        request carries an idempotency key."""
        method, template = OPERATIONS[operation]
        path = template
        for name, value in (path_params or {}).items():
            path = path.replace("{%s}" % name, urllib.parse.quote(str(value), safe=""))
        url = self.base_url + path
        pairs = [(k, query_value(v)) for k, v in (query or {}).items() if v is not None]
        if pairs:
            url += "?" + urllib.parse.urlencode(pairs)
        sent_headers = {
            "Authorization": "Bearer " + self.token,
            "Accept": "application/json",
            "User-Agent": "postbode-python/" + __version__,
        }
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            content_type = "application/json"
        if content_type:
            sent_headers["Content-Type"] = content_type
        sent_headers.update(headers or {})
        retry = idempotent or method in IDEMPOTENT_METHODS

        attempt = 0
        while True:
            try:
                response = self._send(method, url, sent_headers, body)
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout) as failure:
                if retry and attempt < self.max_retries:
                    time.sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                raise ConnectionFailed("%s %s: %s" % (method, url, failure)) from failure
            if 200 <= response.status < 300:
                return response
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            if retry and response.status in RETRY_STATUSES and attempt < self.max_retries:
                delay = self._backoff(attempt) if wait is None else wait
                if delay <= self.max_retry_wait:
                    time.sleep(delay)
                    attempt += 1
                    continue
            raise self._error(response, wait)

    def _send(self, method: str, url: str, headers: Dict[str, str], body: Optional[bytes]) -> Response:
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 (the configured URL)
                return Response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as answer:
            with answer:
                return Response(answer.code, answer.headers, answer.read())

    @staticmethod
    def _backoff(attempt: int) -> float:
        # Exponential with full jitter, so many clients do not come back in step.
        return random.uniform(0.5, 1.0) * min(8.0, 0.5 * 2**attempt)

    @staticmethod
    def _error(response: Response, retry_after: Optional[float]) -> ApiError:
        try:
            problem = json.loads(response.body)
            if not isinstance(problem, dict):
                raise ValueError
        except ValueError:
            text = response.body.decode("utf-8", "replace")[:500]
            problem = {"title": http.client.responses.get(response.status, "Error"), "detail": text}
        return error_for(response.status, problem, retry_after)
