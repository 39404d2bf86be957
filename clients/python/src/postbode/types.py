"""The shapes the API answers with, as typed dictionaries (what ``json`` gives, typed).

Each is named after its schema in Postbode's OpenAPI document (``GET /openapi.json``);
the tests check that their keys are the schema's properties.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, TypedDict

JSON = Any


class Account(TypedDict):
    id: str
    name: str
    created_at: str


class CreatedAccount(Account):
    api_key: str


class CreatedKey(TypedDict):
    id: str
    api_key: str
    name: Optional[str]
    #: What the key may do: ``events:write``, ``webhooks:read``, ``webhooks:write``,
    #: ``data:read``, ``data:write`` or ``manage`` (everything).
    scopes: List[str]


class ApiKeyInfo(TypedDict):
    """An API key as the operator lists it (never its secret)."""

    id: str
    name: Optional[str]
    scopes: List[str]
    created_at: str
    last_used_at: Optional[str]


class Verification(TypedDict):
    """``VerificationView``: the URL ownership check."""

    status: str
    domain: Optional[str]
    file_name: str
    file_content: str
    file_urls: List[str]
    checked_at: Optional[str]
    outcome: Optional[str]


class Health(TypedDict):
    """``HealthView``: failures, pauses and what the engine is doing for the webhook."""

    failing_since: Optional[str]
    paused_until: Optional[str]
    pause_reason: Optional[str]
    engine: Optional[Dict[str, Any]]
    held: int
    skipped_unverified_24h: int


class _WebhookBase(TypedDict):
    id: str
    url: str
    description: str
    events: List[str]
    database_id: Optional[str]
    collection_id: Optional[str]
    format: str
    condition: Optional[str]
    ignore_sources: List[str]
    fields_changed: List[str]
    signatures: List[str]
    headers: Dict[str, str]
    max_concurrency: int
    rate_limit: Optional[Dict[str, int]]
    batch: Optional[Dict[str, int]]
    ordering: Optional[str]
    enabled: bool
    send_traceparent: bool
    disabled_reason: Optional[str]
    verification: Verification
    health: Health
    created_at: str
    updated_at: str


class Webhook(_WebhookBase, total=False):
    """``WebhookView``; ``secret`` only in the answer to creation."""

    secret: str


class WebhookSecret(TypedDict):
    """``SecretView``."""

    secret: str
    previous_secret: Optional[str]
    previous_secret_expires_at: Optional[str]


class RotatedSecret(TypedDict):
    secret: str
    previous_secret_expires_at: str


class VerifyResult(TypedDict):
    """``VerifyAnswer``: ``status`` and each URL looked at."""

    status: str
    checked: List[Dict[str, str]]


class TestReport(TypedDict):
    started_at: str
    request: Optional[Dict[str, Any]]
    status_code: Optional[int]
    duration_ms: int
    response_headers: Dict[str, str]
    response_body: Optional[str]
    error: Optional[str]


class CheckResult(TypedDict):
    """``CheckAnswer``."""

    data: List[Dict[str, Any]]


class Recovered(TypedDict):
    deliveries: int


class ReplayStarted(TypedDict):
    job_id: str
    matched: int


class Job(TypedDict):
    """``JobView``: a replay job and how far it got."""

    id: str
    kind: str
    webhook_id: str
    status: str
    done: int
    total: int
    resent: int
    created: int
    error: Optional[str]
    since: str
    until: str
    created_at: str
    updated_at: str


class Skipped(TypedDict, total=False):
    """Webhooks that want an event but got nothing going out at once, by reason; a
    reason that did not happen is left out."""

    unverified: int
    disabled_held: int
    condition: int
    condition_error: int


class Accepted(TypedDict):
    id: str
    deliveries: int
    skipped: Skipped


class BatchAccepted(TypedDict):
    ids: List[str]
    deliveries: int
    skipped: Skipped


class Delivery(TypedDict):
    id: str
    event_id: str
    webhook_id: str
    status: str
    attempts: int
    next_attempt_at: Optional[str]
    last_status_code: Optional[int]
    created_at: str
    delivered_at: Optional[str]


class Event(TypedDict):
    """``EventView``: the event, its canonical body, and its deliveries."""

    id: str
    type: str
    created_at: str
    body: JSON
    deliveries: List[Delivery]


class Attempt(TypedDict):
    id: str
    delivery_id: Optional[str]
    webhook_id: str
    event_id: Optional[str]
    number: int
    trigger: str
    started_at: str
    duration_ms: int
    status_code: Optional[int]
    error_kind: Optional[str]
    error: Optional[str]
    response_body: Optional[str]


class StatsBucket(TypedDict):
    start: str
    delivered: int
    failed: int
    skipped: int
    skipped_unverified: int
    condition_errors: int
    held: int
    attempts: int
    latency_p50_ms: Optional[int]
    latency_p99_ms: Optional[int]


class Stats(TypedDict):
    """``StatsView``."""

    webhook_id: str
    bucket: str
    since: str
    until: str
    data: List[StatsBucket]


class Database(TypedDict):
    """``DatabaseView``."""

    id: str
    name: str
    fields: List[Dict[str, Any]]
    unsubscribe: Dict[str, Any]
    created_at: str
    updated_at: str


class Collection(TypedDict):
    """``CollectionView``."""

    id: str
    database_id: str
    name: str
    fields: List[Dict[str, Any]]
    unsubscribe: Dict[str, Any]
    created_at: str
    updated_at: str


class Profile(TypedDict):
    """``ProfileView``."""

    id: str
    database_id: str
    fields: Dict[str, Any]
    interests: List[str]
    sequence: int
    created: str
    modified: str


class Subprofile(TypedDict):
    """``SubprofileView``."""

    id: str
    profile_id: str
    database_id: str
    collection_id: str
    fields: Dict[str, Any]
    sequence: int
    created: str
    modified: str


class Erasure(TypedDict):
    """``ErasureView``: what erasing a profile removed."""

    profile_id: str
    erased: Dict[str, int]


class ImportSummary(TypedDict):
    created: int
    updated: int
    unchanged: int
    rejected: List[Dict[str, Any]]
    rejected_count: int


class Message(TypedDict):
    """``MessageView``."""

    id: str
    open_url: str


class Link(TypedDict):
    """``LinkView``."""

    click_url: str


class Domain(TypedDict):
    """``DomainView``."""

    id: str
    domain: str
    status: str
    record: Dict[str, str]
    checked_at: Optional[str]
    outcome: Optional[str]
    created_at: str


class DomainValidation(TypedDict):
    """``ValidationView``."""

    status: str
    checked_at: Optional[str]
    outcome: Optional[str]


class SigningKeys(TypedDict):
    data: List[Dict[str, Any]]
    key_domain: str
    warning: Optional[str]


class KeySet(TypedDict):
    keys: List[Dict[str, Any]]


#: Each typed dictionary and the schema of the OpenAPI document it stands for.
SCHEMAS = {
    Account: "Account",
    CreatedKey: "CreatedKey",
    ApiKeyInfo: "ApiKeyInfo",
    Verification: "VerificationView",
    Health: "HealthView",
    Webhook: "WebhookView",
    WebhookSecret: "SecretView",
    RotatedSecret: "RotatedSecret",
    VerifyResult: "VerifyAnswer",
    TestReport: "TestReport",
    CheckResult: "CheckAnswer",
    Recovered: "Recovered",
    ReplayStarted: "ReplayStarted",
    Job: "JobView",
    Accepted: "Accepted",
    BatchAccepted: "BatchAccepted",
    Delivery: "Delivery",
    Event: "EventView",
    Attempt: "Attempt",
    StatsBucket: "StatsBucket",
    Stats: "StatsView",
    Database: "DatabaseView",
    Collection: "CollectionView",
    Profile: "ProfileView",
    Subprofile: "SubprofileView",
    Erasure: "ErasureView",
    ImportSummary: "ImportSummary",
    Message: "MessageView",
    Link: "LinkView",
    Domain: "DomainView",
    DomainValidation: "ValidationView",
    SigningKeys: "SigningKeys",
    KeySet: "KeySet",
}
