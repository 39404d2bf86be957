"""What the client raises: a problem document from the API as a typed error."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional


class PostbodeError(Exception):
    """Every error of this package."""


class ConnectionFailed(PostbodeError):
    """The service could not be reached (after the retries allowed)."""


class FieldError:
    """One bad field: its full path (``events[1].type``, ``rate_limit.per_second``) and why."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message

    def __repr__(self) -> str:
        return "FieldError(%r, %r)" % (self.field, self.message)


class ApiError(PostbodeError):
    """An RFC 9457 problem document the API answered with.

    ``status``, ``type`` (``/problems/validation``), ``title``, ``detail``, ``errors`` (each
    bad field, on 400 and 422) and ``retry_after`` (seconds, when the answer had one).
    """

    def __init__(self, status: int, problem: Mapping[str, Any], retry_after: Optional[float] = None) -> None:
        self.status = status
        self.type = str(problem.get("type", "about:blank"))
        self.title = str(problem.get("title", ""))
        self.detail = str(problem.get("detail", ""))
        self.errors: List[FieldError] = [
            FieldError(str(e.get("field", "")), str(e.get("message", ""))) for e in problem.get("errors") or []
        ]
        self.retry_after = retry_after
        self.problem = dict(problem)
        super().__init__("%d %s: %s" % (status, self.title, self.detail or self.type))

    @property
    def field_errors(self) -> Dict[str, str]:
        """The bad fields by path: ``{"events[1].type": "required"}``."""
        return {e.field: e.message for e in self.errors}


class BadRequest(ApiError):
    """400: not JSON, or a path that is not UTF-8."""


class Unauthorized(ApiError):
    """401: no token, or a wrong one."""


class Forbidden(ApiError):
    """403: the token may not do this."""


class NotFound(ApiError):
    """404: no such object in the caller's account."""


class Conflict(ApiError):
    """409: an idempotency key reused with another request, a test call to an unverified webhook, ..."""


class ValidationFailed(ApiError):
    """422: fields break a rule; ``errors`` names each."""


class RateLimited(ApiError):
    """429: too many requests; ``retry_after`` says when to come back."""


class Unavailable(ApiError):
    """503 (or 502, 504): the service cannot write now; nothing was changed."""


_BY_STATUS = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: ValidationFailed,
    429: RateLimited,
    502: Unavailable,
    503: Unavailable,
    504: Unavailable,
}


def error_for(status: int, problem: Mapping[str, Any], retry_after: Optional[float]) -> ApiError:
    return _BY_STATUS.get(status, ApiError)(status, problem, retry_after)
