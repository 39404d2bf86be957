"""The API client: one :class:`Client`, its resources as attributes
(``client.webhooks.create(...)``). Every method names an operation of the OpenAPI
document and leaves the HTTP to the transport."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union, cast

from ._transport import Transport, query_value
from .types import (
    Accepted,
    Account,
    ApiKeyInfo,
    Attempt,
    BatchAccepted,
    CheckResult,
    Collection,
    CreatedAccount,
    CreatedKey,
    Database,
    Delivery,
    Domain,
    DomainValidation,
    Erasure,
    Event,
    ImportSummary,
    KeySet,
    Link,
    Message,
    Profile,
    Job,
    Recovered,
    ReplayStarted,
    RotatedSecret,
    SigningKeys,
    Stats,
    Subprofile,
    TestReport,
    VerifyResult,
    Webhook,
    WebhookSecret,
)

Time = Union[datetime, str]


def _fields(**given: Any) -> Dict[str, Any]:
    """The given (not ``None``) fields of a request body."""
    return {k: v for k, v in given.items() if v is not None}


class _Resource:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _json(self, operation: str, path: Optional[Mapping[str, str]] = None, **options: Any) -> Any:
        return self._transport.call(operation, path, **options).json()

    def _pages(self, operation: str, path: Optional[Mapping[str, str]] = None, query: Any = None) -> Iterator[Any]:
        """Every item of a list, page after page (``limit`` sets the page size)."""
        query = dict(query or {})
        while True:
            page = self._json(operation, path, query=query)
            yield from page["data"]
            if not page.get("next_cursor"):
                return
            query["cursor"] = page["next_cursor"]


class Events(_Resource):
    def send(
        self,
        type: str,
        data: Any = None,
        *,
        idempotency_key: Optional[str] = None,
        profile_id: Optional[str] = None,
        ordering_key: Optional[str] = None,
    ) -> Accepted:
        """Sends one event (``202``: committed). With an ``idempotency_key`` (sent as the
        ``Idempotency-Key`` header) a repeat within 24 h answers the first event again,
        which also makes the call safe to retry."""
        body = _fields(type=type, data=data, profile_id=profile_id, ordering_key=ordering_key)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return cast(Accepted, self._json("createEvent", json_body=body, headers=headers, idempotent=bool(idempotency_key)))

    def send_batch(self, events: Sequence[Mapping[str, Any]]) -> BatchAccepted:
        """Sends up to 1000 events, all or nothing (``{"type", "data", "idempotency_key", ...}`` each).
        Retried only when every event carries an ``idempotency_key``."""
        keyed = all(e.get("idempotency_key") for e in events)
        return cast(BatchAccepted, self._json("createEventBatch", json_body={"events": list(events)}, idempotent=keyed))

    def get(self, event_id: str) -> Event:
        """The event, its canonical body and its deliveries."""
        return cast(Event, self._json("getEvent", {"id": event_id}))


class Deliveries(_Resource):
    def get(self, delivery_id: str) -> Delivery:
        return cast(Delivery, self._json("getDelivery", {"id": delivery_id}))

    def resend(self, delivery_id: str) -> Delivery:
        """One more attempt now, with the same delivery id."""
        return cast(Delivery, self._json("resendDelivery", {"id": delivery_id}))


class Webhooks(_Resource):
    def create(self, url: str, **settings: Any) -> Webhook:
        """Creates a webhook; ``settings`` are those of docs/api.md (``events``, ``format``,
        ``signatures``, ``headers``, ...). The answer holds the ``secret``, shown once."""
        return cast(Webhook, self._json("createWebhook", json_body=dict(settings, url=url)))

    def list(
        self, *, database_id: Optional[str] = None, collection_id: Optional[str] = None, limit: Optional[int] = None
    ) -> Iterator[Webhook]:
        """Every webhook of the account, oldest first, fetched page by page."""
        query = _fields(database_id=database_id, collection_id=collection_id, limit=limit)
        return self._pages("listWebhooks", query=query)

    def get(self, webhook_id: str) -> Webhook:
        return cast(Webhook, self._json("getWebhook", {"id": webhook_id}))

    def update(self, webhook_id: str, **settings: Any) -> Webhook:
        """Merges ``settings`` into the webhook's; the result is checked as a whole."""
        return cast(Webhook, self._json("updateWebhook", {"id": webhook_id}, json_body=settings))

    def delete(self, webhook_id: str) -> None:
        self._transport.call("deleteWebhook", {"id": webhook_id})

    def secret(self, webhook_id: str) -> WebhookSecret:
        return cast(WebhookSecret, self._json("getWebhookSecret", {"id": webhook_id}))

    def rotate_secret(self, webhook_id: str) -> RotatedSecret:
        """A new secret; the previous one keeps signing beside it for a day."""
        return cast(RotatedSecret, self._json("rotateWebhookSecret", {"id": webhook_id}))

    def verification_file(self, webhook_id: str) -> str:
        """The ownership file's content, to place next to the callback script."""
        return self._transport.call("getVerificationFile", {"id": webhook_id}).text()

    def verify(self, webhook_id: str) -> VerifyResult:
        """Fetches the ownership file now."""
        return cast(VerifyResult, self._json("verifyWebhook", {"id": webhook_id}))

    def test(
        self, webhook_id: str, *, type: Optional[str] = None, data: Any = None, body: Optional[str] = None
    ) -> TestReport:
        """One real, signed call now; ``data`` is rendered like an event, ``body`` sent as typed."""
        request = _fields(type=type, data=data, body=body)
        return cast(TestReport, self._json("testWebhook", {"id": webhook_id}, json_body=request))

    def check_all(self) -> CheckResult:
        """A test call to every verified webhook and a new ownership check of the others."""
        return cast(CheckResult, self._json("checkWebhooks"))

    def recover(self, webhook_id: str, since: Time, until: Optional[Time] = None) -> Recovered:
        """Sends again every failed (or backing-off) delivery created in ``[since, until]``."""
        body = _fields(since=query_value(since), until=query_value(until) if until is not None else None)
        return cast(Recovered, self._json("recoverWebhook", {"id": webhook_id}, json_body=body))

    def replay(
        self,
        webhook_id: str,
        since: Time,
        until: Optional[Time] = None,
        *,
        status: Optional[Sequence[str]] = None,
        event_types: Optional[Sequence[str]] = None,
    ) -> ReplayStarted:
        """A replay job: the deliveries of ``[since, until]`` with a listed ``status`` sent
        again, and (``"missing"``, or no ``status``) the events of the range the webhook
        never had. Follow it with :meth:`job`."""
        body = _fields(
            since=query_value(since),
            until=query_value(until) if until is not None else None,
            status=list(status) if status is not None else None,
            event_types=list(event_types) if event_types is not None else None,
        )
        return cast(ReplayStarted, self._json("replayWebhook", {"id": webhook_id}, json_body=body))

    def job(self, job_id: str) -> Job:
        """A replay job's progress: ``status``, ``done`` of ``total``."""
        return cast(Job, self._json("getReplayJob", {"id": job_id}))

    def deliveries(
        self,
        webhook_id: str,
        *,
        status: Optional[str] = None,
        event_type: Optional[str] = None,
        since: Optional[Time] = None,
        until: Optional[Time] = None,
        limit: Optional[int] = None,
    ) -> Iterator[Delivery]:
        """The webhook's deliveries, newest first."""
        query = _fields(status=status, event_type=event_type, since=since, until=until, limit=limit)
        return self._pages("listWebhookDeliveries", {"id": webhook_id}, query)

    def attempts(
        self,
        webhook_id: str,
        *,
        status: Optional[str] = None,
        since: Optional[Time] = None,
        until: Optional[Time] = None,
        limit: Optional[int] = None,
    ) -> Iterator[Attempt]:
        """The attempt log, newest first (``status``: ``succeeded`` or ``failed``)."""
        query = _fields(status=status, since=since, until=until, limit=limit)
        return self._pages("listAttempts", {"id": webhook_id}, query)

    def export_attempts(
        self, webhook_id: str, format: str = "csv", *, status: Optional[str] = None, since: Optional[Time] = None,
        until: Optional[Time] = None,
    ) -> str:
        """The whole (filtered) attempt log as ``csv`` or ``jsonl`` text."""
        query = _fields(format=format, status=status, since=since, until=until)
        return self._transport.call("listAttempts", {"id": webhook_id}, query=query).text()

    def stats(
        self, webhook_id: str, *, since: Optional[Time] = None, until: Optional[Time] = None, bucket: Optional[str] = None
    ) -> Stats:
        """Delivered, failed, skipped and latency per ``hour`` or ``day`` (default: the last 24 h)."""
        query = _fields(since=since, until=until, bucket=bucket)
        return cast(Stats, self._json("getWebhookStats", {"id": webhook_id}, query=query))


class Databases(_Resource):
    def create(self, name: str, fields: Sequence[Mapping[str, Any]] = (), **definition: Any) -> Database:
        """``fields``: ``[{"name": "email", "type": "email"}, ...]``; also ``unsubscribe``."""
        return cast(Database, self._json("createDatabase", json_body=dict(definition, name=name, fields=list(fields))))

    def list(self, *, limit: Optional[int] = None) -> Iterator[Database]:
        return self._pages("listDatabases", query=_fields(limit=limit))

    def get(self, database_id: str) -> Database:
        return cast(Database, self._json("getDatabase", {"id": database_id}))

    def update(self, database_id: str, **definition: Any) -> Database:
        return cast(Database, self._json("updateDatabase", {"id": database_id}, json_body=definition))

    def delete(self, database_id: str) -> None:
        """Deletes the database with its collections and profiles (no events fire)."""
        self._transport.call("deleteDatabase", {"id": database_id})

    def import_profiles(
        self, database_id: str, data: Union[bytes, str], *, content_type: str = "text/csv", key: Optional[str] = None
    ) -> ImportSummary:
        """Imports CSV (a header row) or ``application/x-ndjson``; with ``key``, a row that
        matches a profile on that field updates it. Not retried: send it again yourself
        with a ``key``, which changes nothing the first import did."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        answer = self._json(
            "importProfiles", {"id": database_id}, query=_fields(key=key), body=raw, content_type=content_type
        )
        return cast(ImportSummary, answer)


class Collections(_Resource):
    def create(self, database_id: str, name: str, fields: Sequence[Mapping[str, Any]] = (), **definition: Any) -> Collection:
        body = dict(definition, name=name, fields=list(fields))
        return cast(Collection, self._json("createCollection", {"id": database_id}, json_body=body))

    def list(self, database_id: str, *, limit: Optional[int] = None) -> Iterator[Collection]:
        return self._pages("listCollections", {"id": database_id}, _fields(limit=limit))

    def get(self, collection_id: str) -> Collection:
        return cast(Collection, self._json("getCollection", {"id": collection_id}))

    def update(self, collection_id: str, **definition: Any) -> Collection:
        return cast(Collection, self._json("updateCollection", {"id": collection_id}, json_body=definition))

    def delete(self, collection_id: str) -> None:
        self._transport.call("deleteCollection", {"id": collection_id})


class Profiles(_Resource):
    def create(
        self, database_id: str, fields: Mapping[str, Any], *, interests: Optional[Sequence[str]] = None
    ) -> Profile:
        """Creates a profile; a ``create`` event goes out."""
        body = _fields(fields=dict(fields), interests=list(interests) if interests is not None else None)
        return cast(Profile, self._json("createProfile", {"id": database_id}, json_body=body))

    def list(
        self, database_id: str, *, where: Optional[Mapping[str, Any]] = None, limit: Optional[int] = None
    ) -> Iterator[Profile]:
        """The database's profiles; ``where={"email": "piet@example.com"}`` filters on one field."""
        query: Dict[str, Any] = _fields(limit=limit)
        query.update({"fields." + name: value for name, value in (where or {}).items()})
        return self._pages("listProfiles", {"id": database_id}, query)

    def get(self, profile_id: str) -> Profile:
        return cast(Profile, self._json("getProfile", {"id": profile_id}))

    def replace(
        self, profile_id: str, fields: Mapping[str, Any], *, interests: Optional[Sequence[str]] = None
    ) -> Profile:
        """Replaces the fields (those not given are cleared)."""
        body = _fields(fields=dict(fields), interests=list(interests) if interests is not None else None)
        return cast(Profile, self._json("replaceProfile", {"id": profile_id}, json_body=body))

    def update(
        self, profile_id: str, fields: Mapping[str, Any], *, interests: Optional[Sequence[str]] = None
    ) -> Profile:
        """Merges the fields; a change that changes nothing fires nothing."""
        body = _fields(fields=dict(fields), interests=list(interests) if interests is not None else None)
        return cast(Profile, self._json("updateProfile", {"id": profile_id}, json_body=body))

    def delete(self, profile_id: str) -> None:
        """Deletes the profile and its subprofiles, each with a ``delete`` event."""
        self._transport.call("deleteProfile", {"id": profile_id})

    def erase(self, profile_id: str) -> Erasure:
        """Deletes the profile and everything stored about it: its events, deliveries,
        attempts and messages."""
        return cast(Erasure, self._json("deleteProfile", {"id": profile_id}, query={"erase": True}))


class Subprofiles(_Resource):
    def create(self, profile_id: str, collection_id: str, fields: Mapping[str, Any]) -> Subprofile:
        body = {"collection_id": collection_id, "fields": dict(fields)}
        return cast(Subprofile, self._json("createSubprofile", {"id": profile_id}, json_body=body))

    def list(self, profile_id: str, *, limit: Optional[int] = None) -> Iterator[Subprofile]:
        return self._pages("listSubprofiles", {"id": profile_id}, _fields(limit=limit))

    def get(self, subprofile_id: str) -> Subprofile:
        return cast(Subprofile, self._json("getSubprofile", {"id": subprofile_id}))

    def replace(self, subprofile_id: str, fields: Mapping[str, Any]) -> Subprofile:
        body = {"fields": dict(fields)}
        return cast(Subprofile, self._json("replaceSubprofile", {"id": subprofile_id}, json_body=body))

    def update(self, subprofile_id: str, fields: Mapping[str, Any]) -> Subprofile:
        body = {"fields": dict(fields)}
        return cast(Subprofile, self._json("updateSubprofile", {"id": subprofile_id}, json_body=body))

    def delete(self, subprofile_id: str) -> None:
        self._transport.call("deleteSubprofile", {"id": subprofile_id})


class Messages(_Resource):
    def create(
        self,
        mailing: Mapping[str, Any],
        email: str,
        *,
        profile_id: Optional[str] = None,
        subprofile_id: Optional[str] = None,
    ) -> Message:
        """Registers a sent message: ``mailing`` is ``{"id", "name"?, "tags"?}``. The answer
        has the open pixel's URL."""
        body = _fields(mailing=dict(mailing), email=email, profile_id=profile_id, subprofile_id=subprofile_id)
        return cast(Message, self._json("createMessage", json_body=body))

    def link(self, message_id: str, url: str) -> Link:
        """A tracked click URL for ``url``, to put in the e-mail."""
        return cast(Link, self._json("createMessageLink", {"id": message_id}, json_body={"url": url}))

    def report_delivery(self, message_id: str, code: int, **report: Any) -> Accepted:
        """``extended`` (``2.0.0``), ``description``."""
        return self._report("reportDelivery", message_id, dict(report, code=code))

    def report_bounce(self, message_id: str, **report: Any) -> Accepted:
        """``envelope``, ``mime``."""
        return self._report("reportBounce", message_id, report)

    def report_failure(self, message_id: str, state: str, code: int, **report: Any) -> Accepted:
        """``state``: ``connect``, ``mail``, ``rcpt``, ``data`` or ``bounce``; also ``extended``, ``description``."""
        return self._report("reportFailure", message_id, dict(report, state=state, code=code))

    def report_abuse(self, message_id: str, **report: Any) -> Accepted:
        """``emailfrom``, ``mime``."""
        return self._report("reportAbuse", message_id, report)

    def report_unsubscribe(self, message_id: str) -> Accepted:
        """Also applies the database's and collection's unsubscribe behaviour."""
        return self._report("reportUnsubscribe", message_id, {})

    def _report(self, operation: str, message_id: str, body: Mapping[str, Any]) -> Accepted:
        return cast(Accepted, self._json(operation, {"id": message_id}, json_body=dict(body)))


class Domains(_Resource):
    def create(self, domain: str) -> Domain:
        """The answer's ``record`` is the TXT record to publish."""
        return cast(Domain, self._json("createDomain", json_body={"domain": domain}))

    def list(self, *, limit: Optional[int] = None) -> Iterator[Domain]:
        return self._pages("listDomains", query=_fields(limit=limit))

    def get(self, domain_id: str) -> Domain:
        return cast(Domain, self._json("getDomain", {"id": domain_id}))

    def delete(self, domain_id: str) -> None:
        self._transport.call("deleteDomain", {"id": domain_id})

    def validate(self, domain_id: str) -> DomainValidation:
        """Looks the TXT record up now."""
        return cast(DomainValidation, self._json("validateDomain", {"id": domain_id}))


class Accounts(_Resource):
    def current(self) -> Account:
        """The account an API key belongs to; its ``id`` is what ``http-signature`` and
        ``rfc9421`` calls carry in the account header."""
        return cast(Account, self._json("getAccount"))

    def create(self, name: str) -> CreatedAccount:
        """Operator token: a new account and its first API key (shown once)."""
        return cast(CreatedAccount, self._json("createAccount", json_body={"name": name}))

    def list(self, *, limit: Optional[int] = None) -> Iterator[Account]:
        """Operator token: every account."""
        return self._pages("listAccounts", query=_fields(limit=limit))

    def create_key(
        self, account_id: str, *, name: Optional[str] = None, scopes: Optional[Sequence[str]] = None
    ) -> CreatedKey:
        """Operator token: another API key for the account, named and limited to
        ``scopes`` (left out: ``manage``, everything). A sender's backend gets
        ``scopes=["events:write"]``: it can send events and nothing else."""
        body = _fields(name=name, scopes=list(scopes) if scopes is not None else None)
        if body:
            return cast(CreatedKey, self._json("createAccountKey", {"id": account_id}, json_body=body))
        return cast(CreatedKey, self._json("createAccountKey", {"id": account_id}))

    def list_keys(self, account_id: str) -> List[ApiKeyInfo]:
        """Operator token: the account's keys with their names, scopes and last use."""
        return cast(List[ApiKeyInfo], self._json("listAccountKeys", {"id": account_id}))

    def delete_key(self, account_id: str, key_id: str) -> None:
        """Operator token: the key stops working at once."""
        self._transport.call("deleteAccountKey", {"id": account_id, "key_id": key_id})


class SigningKeysResource(_Resource):
    def key_set(self) -> KeySet:
        """The public key set receivers verify with (no token needed)."""
        return cast(KeySet, self._json("getKeySet"))

    def list(self) -> SigningKeys:
        """Operator token: the keys with the DNS records to publish."""
        return cast(SigningKeys, self._json("listSigningKeys"))

    def rotate(self) -> SigningKeys:
        """Operator token: a new key per algorithm, signing after the pre-publication period."""
        return cast(SigningKeys, self._json("rotateSigningKeys"))


class Client:
    """Talks to a Postbode service.

    ``token`` is an account's API key (``pb_...``), or the operator token for accounts and
    signing keys. Calls that are safe to repeat (GET, PUT, DELETE, and events sent with an
    idempotency key) are retried up to ``max_retries`` times on 429, 502, 503, 504 and
    lost connections, after the ``Retry-After`` the service gives (when it is at most
    ``max_retry_wait`` seconds) or an exponential back-off.
    """

    def __init__(
        self,
        token: str,
        base_url: str = "http://127.0.0.1:8080",
        *,
        timeout: float = 30.0,
        max_retries: int = 2,
        max_retry_wait: float = 60.0,
    ) -> None:
        transport = Transport(
            base_url, token, timeout=timeout, max_retries=max_retries, max_retry_wait=max_retry_wait
        )
        self.events = Events(transport)
        self.deliveries = Deliveries(transport)
        self.webhooks = Webhooks(transport)
        self.databases = Databases(transport)
        self.collections = Collections(transport)
        self.profiles = Profiles(transport)
        self.subprofiles = Subprofiles(transport)
        self.messages = Messages(transport)
        self.domains = Domains(transport)
        self.accounts = Accounts(transport)
        self.signing_keys = SigningKeysResource(transport)
        self._transport = transport


__all__: List[str] = ["Client"]
