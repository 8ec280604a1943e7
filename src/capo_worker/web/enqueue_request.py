"""The enqueue request body: one pydantic model that validates it and documents it.

The seed's contract (spec 50 §a): a JSON object with `triggeredBy` (post-match,
admin or cron) and `requestId`; `matchId`, `userId`, `retryOf`, `timestamp`
and our `tenantId` are optional; unknown keys are kept. The object is stored
as the job's payload as sent, with a server timestamp when none was sent.
`EnqueueBody` is both the check and /openapi.json's schema of the body.

Differences from the seed, all on bad input: invalid JSON or a body that is
not an object is a 400 (the seed answered 500), the optional fields are type
checked (a timestamp must name a real date and time), and every error names
its field. Values PostgreSQL's jsonb cannot store (NUL characters, lone
surrogates, NaN or infinite numbers, very deep nesting) are refused here
rather than failing at the insert, and unknown keys may take 1 kB together.
The model's own checks word each refusal as the API answers it (field,
error, message): the first problem found, in the order of the fields.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from capo_worker.job_row import TRIGGERS, Trigger
from capo_worker.stats.requests import StatsRequest
from capo_worker.timestamps import iso_utc

MAX_TEXT = 200
MAX_DEPTH = 32
MAX_MATCH_ID = 2**31 - 1  # matches.match_id is a PostgreSQL integer
MAX_TIMESTAMP = 64
MAX_OTHER_FIELDS_BYTES = 1024
INVALID_PAYLOAD = "Invalid request payload"
INVALID_TRIGGER = "Invalid trigger type"


class InvalidEnqueueRequest(Exception):
    def __init__(self, field: str, error: str, message: str = INVALID_PAYLOAD) -> None:
        super().__init__(error)
        self.field = field
        self.error = error
        self.message = message


def _refuse(field: str, error: str, message: str = INVALID_PAYLOAD) -> PydanticCustomError:
    """A validation error carrying the API's answer (field, error, message)."""
    return PydanticCustomError(
        "enqueue", "{error}", {"field": field, "error": error, "message": message}
    )


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


def _bad_text(text: str) -> str | None:
    for char in text:
        if char == "\x00":
            return "contains a NUL character"
        if "\ud800" <= char <= "\udfff":
            return "contains an unpaired surrogate"
    return None


def _text(field: str, what: str = "a string") -> Callable[[Any], None]:
    """An optional text of at most MAX_TEXT characters."""

    def check(value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, str):
            raise _refuse(field, f"{field} must be {what}, got {_kind(value)}")
        if len(value) > MAX_TEXT:
            raise _refuse(field, f"{field} is longer than {MAX_TEXT} characters")
        problem = _bad_text(value)
        if problem:
            raise _refuse(field, f"{field} {problem}")

    return check


def _trigger(value: Any) -> None:
    if value not in TRIGGERS:
        raise _refuse(
            "triggeredBy",
            f"Invalid triggeredBy value. Must be one of: {', '.join(TRIGGERS)}",
            INVALID_TRIGGER,
        )


def _match_id(value: Any) -> None:
    """A positive integer (1.0 counts, as in JSON Schema) that fits PostgreSQL's integer."""
    if value is None:
        return
    integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral:
        raise _refuse("matchId", f"matchId must be an integer, got {_kind(value)}")
    if not 1 <= value <= MAX_MATCH_ID:
        raise _refuse("matchId", f"matchId is out of range: match ids run from 1 to {MAX_MATCH_ID}")


def _retry_of(value: Any) -> None:
    _text("retryOf", "a job id (UUID)")(value)
    if value:
        try:
            uuid.UUID(value)
        except ValueError:
            raise _refuse("retryOf", f"retryOf {value[:40]!r} is not a job id (UUID)") from None


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


def _timestamp(value: Any) -> None:
    """Absent, null or "": the server's time; otherwise a real ISO-8601 date-time."""
    if value is None or value == "":
        return
    if not isinstance(value, str):
        raise _refuse(
            "timestamp", f"timestamp must be an ISO-8601 date-time string, got {_kind(value)}"
        )
    if not _is_timestamp(value):
        raise _refuse(
            "timestamp",
            f"timestamp {value[:40]!r} is not an ISO-8601 date-time such as "
            "2026-11-28T18:49:05.123Z",
        )


def _optional_format(fmt: str, description: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": fmt},
                {"type": "string", "maxLength": 0},
                {"type": "null"},
            ],
            "description": description,
        }
    )


# Each field's check, in the order they are made: the first problem is the answer.
_FIELD_CHECKS: dict[str, Callable[[Any], None]] = {
    "triggeredBy": _trigger,
    "requestId": _text("requestId", "a string (for example a UUID)"),
    "matchId": _match_id,
    "userId": _text("userId"),
    "retryOf": _retry_of,
    "tenantId": _text("tenantId", "a tenant name or id"),
    "timestamp": _timestamp,
}


class EnqueueBody(BaseModel):
    """The enqueue request. Stored as the job's payload as sent (unknown keys are kept)."""

    model_config = ConfigDict(extra="allow")

    triggeredBy: Trigger
    requestId: str = Field(
        min_length=1,
        max_length=MAX_TEXT,
        pattern=r"^[^\x00]+$",
        description="Idempotency key: the same requestId always answers with the same job.",
    )
    matchId: int | None = Field(default=None, ge=1, le=MAX_MATCH_ID)
    userId: str | None = Field(default=None, max_length=MAX_TEXT, pattern=r"^[^\x00]*$")
    retryOf: Annotated[
        str | None, _optional_format("uuid", "The failed job this request retries (a job id).")
    ] = None
    timestamp: Annotated[
        str | None,
        _optional_format(
            "date-time",
            "ISO-8601; absent, null or empty: the server's time (UTC, milliseconds), as in "
            "the seed.",
        ),
    ] = None
    tenantId: str | None = Field(
        default=None,
        max_length=MAX_TEXT,
        pattern=r"^[^\x00]*$",
        description="Tenant name or id; the default tenant when absent.",
    )

    @model_validator(mode="wrap")
    @classmethod
    def _checked(cls, data: Any, handler: ModelWrapValidatorHandler[EnqueueBody]) -> Any:
        """Our checks with our words, before and after pydantic's (which then never fail)."""
        if not isinstance(data, dict):
            raise _refuse("body", f"The request body must be a JSON object, got {_kind(data)}")
        missing = [f for f in ("triggeredBy", "requestId") if not data.get(f)]
        if missing:
            raise _refuse(
                missing[0],
                f"Missing required field{'s' if len(missing) > 1 else ''}: "
                f"{' and '.join(missing)} (triggeredBy and requestId are required)",
            )
        for name, check in _FIELD_CHECKS.items():
            check(data.get(name))
        _check_storable(data, "body", "body")
        _check_other_fields(data)
        return handler(data)


def _check_storable(value: Any, path: str, field: str, depth: int = 0) -> None:
    """Refuse what jsonb cannot hold; `field` is the top-level key it sits under."""
    if depth > MAX_DEPTH:
        raise _refuse(field, f"{field} is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        problem = _bad_text(value)
        if problem:
            raise _refuse(field, f"{path} {problem}")
    elif isinstance(value, float) and not math.isfinite(value):
        raise _refuse(field, f"{path} is not a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = _bad_text(key)
            if problem:
                raise _refuse(field, f"a key in {path} {problem}")
            where = key if depth == 0 else f"{path}.{key}"
            _check_storable(item, where, key if depth == 0 else field, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_storable(item, f"{path}[{index}]", field, depth + 1)


def _check_other_fields(body: dict[str, Any]) -> None:
    """Fields of our own are stored as sent, but only a little of them: the payload is
    served to the admin page every few seconds."""
    known = EnqueueBody.model_fields
    other = {k: v for k, v in body.items() if k not in known}
    sizes = {k: len(json.dumps({k: v}, ensure_ascii=False).encode()) for k, v in other.items()}
    total = len(json.dumps(other, ensure_ascii=False).encode()) if other else 0
    if total > MAX_OTHER_FIELDS_BYTES:
        largest = max(sizes, key=lambda k: sizes[k])
        raise _refuse(
            largest,
            f"Fields besides {', '.join(known)} may take {MAX_OTHER_FIELDS_BYTES} bytes "
            f"together; these take {total} ({largest} alone {sizes[largest]}): store large "
            "data elsewhere and send its id",
        )


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


def parse_enqueue_request(raw: bytes, *, now: Callable[[], str] = iso_utc) -> StatsRequest:
    """Decode and validate the body; raise InvalidEnqueueRequest naming the field at fault."""
    body = _decode(raw)
    try:
        valid = EnqueueBody.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        context = first.get("ctx") or {}
        field = str(context.get("field") or ".".join(map(str, first["loc"])) or "body")
        raise InvalidEnqueueRequest(
            field,
            str(context.get("error") or first["msg"]),
            context.get("message", INVALID_PAYLOAD),
        ) from None
    payload = dict(body)  # as sent: unknown keys kept, numbers as written
    if not valid.timestamp:
        payload["timestamp"] = now()
    return StatsRequest(payload, valid.triggeredBy, valid.requestId, valid.tenantId or None)
