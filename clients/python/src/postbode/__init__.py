"""Postbode's client library: send events and manage webhooks (:class:`Client`), and
verify Postbode's calls on the receiving side (:mod:`postbode.signatures`)."""

from ._version import __version__
from .client import Client
from .errors import (
    ApiError,
    BadRequest,
    Conflict,
    ConnectionFailed,
    FieldError,
    Forbidden,
    NotFound,
    PostbodeError,
    RateLimited,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)

__all__ = [
    "ApiError",
    "BadRequest",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "FieldError",
    "Forbidden",
    "NotFound",
    "PostbodeError",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
    "ValidationFailed",
    "__version__",
]
