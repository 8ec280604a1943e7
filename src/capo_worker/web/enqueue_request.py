"""Validation of an enqueue request body, before anything is written.

The seed's contract (spec 50 §a): a JSON object with `triggeredBy` (post-match,
admin or cron) and `requestId`; `matchId`, `userId`, `retryOf`, `timestamp`
and our `tenantId` are optional; unknown keys are kept. The object is stored
as the job's payload, with a server timestamp when none was sent.

Differences from the seed, all on bad input: invalid JSON or a body that is
not an object is a 400 (the seed answered 500), the optional fields are type
checked (a timestamp must name a real date and time), and every error names
its field. Values PostgreSQL's jsonb cannot store (NUL characters, lone
surrogates, NaN or infinite numbers, very deep nesting) are refused here
rather than failing at the insert, and unknown keys may take 1 kB together.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from capo_worker.queue import TRIGGERS
from capo_worker.timestamps import iso_utc_ms

MAX_TEXT = 200
MAX_DEPTH = 32
INVALID_PAYLOAD = "Invalid request payload"


class InvalidEnqueueRequest(Exception):
    def __init__(self, field: str, error: str, message: str = INVALID_PAYLOAD) -> None:
        super().__init__(error)
        self.field = field
        self.error = error
        self.message = message


@dataclass(frozen=True)
class EnqueueRequest:
    payload: dict[str, Any]  # what the job stores
    trigger: str
    request_id: str
    tenant: str | None  # name or id as sent; resolved against the tenants table later


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        raise InvalidEnqueueRequest(
            "body", "Request body is empty: send a JSON object with triggeredBy and requestId"
        )
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise InvalidEnqueueRequest("body", "Invalid JSON: the body is not UTF-8 text") from None
    except RecursionError:
        raise InvalidEnqueueRequest("body", "Invalid JSON: nested too deeply") from None
    except ValueError as exc:
        raise InvalidEnqueueRequest("body", f"Invalid JSON: {exc}") from None


def _bad_text(text: str) -> str | None:
    for char in text:
        if char == "\x00":
            return "contains a NUL character"
        if "\ud800" <= char <= "\udfff":
            return "contains an unpaired surrogate"
    return None


def _check_storable(value: Any, path: str, field: str, depth: int = 0) -> None:
    """Refuse what jsonb cannot hold; `field` is the top-level key it sits under."""
    if depth > MAX_DEPTH:
        raise InvalidEnqueueRequest(field, f"{field} is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        problem = _bad_text(value)
        if problem:
            raise InvalidEnqueueRequest(field, f"{path} {problem}")
    elif isinstance(value, float) and not math.isfinite(value):
        raise InvalidEnqueueRequest(field, f"{path} is not a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = _bad_text(key)
            if problem:
                raise InvalidEnqueueRequest(field, f"a key in {path} {problem}")
            where = key if depth == 0 else f"{path}.{key}"
            _check_storable(item, where, key if depth == 0 else field, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_storable(item, f"{path}[{index}]", field, depth + 1)


def _optional_text(body: dict[str, Any], field: str, what: str = "a string") -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEnqueueRequest(field, f"{field} must be {what}, got {_kind(value)}")
    if len(value) > MAX_TEXT:
        raise InvalidEnqueueRequest(field, f"{field} is longer than {MAX_TEXT} characters")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


MAX_MATCH_ID = 2**31 - 1  # matches.match_id is a PostgreSQL integer


def _check_match_id(value: Any) -> None:
    """A match id: a positive integer (1.0 counts, as in JSON Schema) that fits PostgreSQL's
    integer, or absent."""
    if value is None:
        return
    integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral:
        raise InvalidEnqueueRequest("matchId", f"matchId must be an integer, got {_kind(value)}")
    if not 1 <= value <= MAX_MATCH_ID:
        raise InvalidEnqueueRequest(
            "matchId", f"matchId is out of range: match ids run from 1 to {MAX_MATCH_ID}"
        )


MAX_TIMESTAMP = 64


def _is_timestamp(value: str) -> bool:
    """An ISO-8601 date-time that names a real instant: no month 13, no February 30.

    RFC 3339's lower-case 't' and 'z' (JSON Schema's "date-time") count too.
    """
    if len(value) > MAX_TIMESTAMP or not value.isascii():
        return False
    try:
        dt.datetime.fromisoformat(value.upper())
    except ValueError:
        return False
    return True


def _check_timestamp(body: dict[str, Any]) -> bool:
    """True when the request carries its own timestamp (absent, null or "": the server's)."""
    value = body.get("timestamp")
    if value is None or value == "":
        return False
    if not isinstance(value, str):
        raise InvalidEnqueueRequest(
            "timestamp", f"timestamp must be an ISO-8601 date-time string, got {_kind(value)}"
        )
    if not _is_timestamp(value):
        raise InvalidEnqueueRequest(
            "timestamp",
            f"timestamp {value[:40]!r} is not an ISO-8601 date-time such as "
            "2026-11-28T18:49:05.123Z",
        )
    return True


KNOWN_FIELDS = ("triggeredBy", "requestId", "matchId", "userId", "retryOf", "timestamp", "tenantId")
MAX_OTHER_FIELDS_BYTES = 1024


def _check_other_fields(body: dict[str, Any]) -> None:
    """Fields of our own are stored as sent, but only a little of them: the payload is
    served to the admin page every few seconds."""
    other = {k: v for k, v in body.items() if k not in KNOWN_FIELDS}
    sizes = {k: len(json.dumps({k: v}, ensure_ascii=False).encode()) for k, v in other.items()}
    total = len(json.dumps(other, ensure_ascii=False).encode()) if other else 0
    if total > MAX_OTHER_FIELDS_BYTES:
        largest = max(sizes, key=lambda k: sizes[k])
        raise InvalidEnqueueRequest(
            largest,
            f"Fields besides {', '.join(KNOWN_FIELDS)} may take {MAX_OTHER_FIELDS_BYTES} bytes "
            f"together; these take {total} ({largest} alone {sizes[largest]}): store large "
            "data elsewhere and send its id",
        )


def parse_enqueue_request(raw: bytes, *, now: Callable[[], str] = iso_utc_ms) -> EnqueueRequest:
    """Validate the body; raise InvalidEnqueueRequest naming the field at fault."""
    body = _decode(raw)
    if not isinstance(body, dict):
        raise InvalidEnqueueRequest(
            "body", f"The request body must be a JSON object, got {_kind(body)}"
        )
    missing = [f for f in ("triggeredBy", "requestId") if not body.get(f)]
    if missing:
        raise InvalidEnqueueRequest(
            missing[0],
            f"Missing required field{'s' if len(missing) > 1 else ''}: {' and '.join(missing)} "
            "(triggeredBy and requestId are required)",
        )
    trigger = body["triggeredBy"]
    if trigger not in TRIGGERS:
        raise InvalidEnqueueRequest(
            "triggeredBy",
            f"Invalid triggeredBy value. Must be one of: {', '.join(TRIGGERS)}",
            "Invalid trigger type",
        )
    request_id = _optional_text(body, "requestId", "a string (for example a UUID)")
    assert request_id is not None
    _check_match_id(body.get("matchId"))
    _optional_text(body, "userId")
    retry_of = _optional_text(body, "retryOf", "a job id (UUID)")
    if retry_of:
        try:
            uuid.UUID(retry_of)
        except ValueError:
            raise InvalidEnqueueRequest(
                "retryOf", f"retryOf {retry_of[:40]!r} is not a job id (UUID)"
            ) from None
    tenant = _optional_text(body, "tenantId", "a tenant name or id")
    has_timestamp = _check_timestamp(body)
    _check_storable(body, "body", "body")
    _check_other_fields(body)
    payload = dict(body)
    if not has_timestamp:
        payload["timestamp"] = now()
    return EnqueueRequest(payload, str(trigger), request_id, tenant or None)
