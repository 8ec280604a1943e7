"""The web app's cache-invalidation webhook client.

After a stats job, the worker POSTs the cache tags whose data changed to the
web app (`POST /api/internal/cache/invalidate`, spec 50 §b) with
`{tags, source, requestId}` and `Authorization: Bearer <INTERNAL_API_KEY>`.
The app answers `{success, invalidated_tags, failed_tags, error}`: 200 when
every tag was revalidated, 207 when some failed.

Policy: up to three attempts with exponential backoff and a hard per-request
timeout. A 207 resends only the tags that failed. 5xx, 408, 429, timeouts and
connection errors are retried; any other 4xx (401 wrong key, 400, 404) and
3xx are permanent and end at once. The outcome records every tag's status and
every attempt.

Bounded: an answer is read up to MAX_ANSWER_BYTES (the app's answers are a
few hundred bytes); a longer one is not parsed, and the error says its size
and starts with its first bytes. Every text taken from an answer is cut to a
few KB with a note of its length, so no answer can grow the worker's memory
or the job row by more than that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from capo_worker import metrics
from capo_worker.backoff import Backoff
from capo_worker.config import Settings
from capo_worker.results import CacheAttempt, CacheOutcome
from capo_worker.text import bounded_text, one_line

log = logging.getLogger(__name__)

DEFAULT_ATTEMPTS = 3  # requests per invalidation (not job attempts)
DEFAULT_BACKOFF_SECONDS = 1.0
MAX_RETRY_AFTER_SECONDS = 30.0
RETRYABLE_STATUS = frozenset({408, 429})
_BODY_EXCERPT = 300
MAX_ANSWER_BYTES = 64 * 1024

TagStatus = Literal["invalidated", "failed"]


@dataclass
class Invalidation:
    """The outcome of invalidating a set of tags, over all attempts."""

    tags: dict[str, TagStatus]  # every tag asked for, in order
    attempts: list[CacheAttempt] = field(default_factory=list)
    error: str | None = None  # the last error, when some tag was not invalidated
    permanent: bool = False  # failed in a way retrying will not fix (e.g. 401)

    @property
    def success(self) -> bool:
        return all(status == "invalidated" for status in self.tags.values())

    @property
    def invalidated_tags(self) -> list[str]:
        return [t for t, s in self.tags.items() if s == "invalidated"]

    @property
    def failed_tags(self) -> list[str]:
        return [t for t, s in self.tags.items() if s != "invalidated"]

    def outcome(self) -> CacheOutcome:
        """What the job's results record (`results.cache_invalidation`)."""
        outcome = CacheOutcome(
            success=self.success,
            invalidated_tags=self.invalidated_tags,
            failed_tags=self.failed_tags,
            tags=dict(self.tags),
            attempts=self.attempts,
        )
        if self.error is not None:
            outcome.error = self.error
            outcome.permanent = self.permanent
        return outcome

    def to_json(self) -> dict[str, Any]:
        return self.outcome().to_json()


@dataclass
class _Reply:
    """What one attempt established about the tags it sent."""

    invalidated: list[str]
    error: str | None = None
    retryable: bool = True
    retry_after: float | None = None
    status_code: int | None = None


class WebhookInvalidator:
    """POSTs tags to the web app's invalidation endpoint with retries."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout_seconds: float = 10.0,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.url = url
        self._api_key = api_key
        self.timeout_seconds = timeout_seconds
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep

    def __repr__(self) -> str:  # never show the key
        return f"WebhookInvalidator({self.url!r}, timeout={self.timeout_seconds}s)"

    async def invalidate(
        self, tags: list[str], *, source: str, request_id: str | None
    ) -> Invalidation:
        """Invalidate `tags`; never raises for HTTP trouble, the outcome says what happened."""
        wanted = list(dict.fromkeys(tags))  # unique, in order
        outcome = Invalidation(tags=dict.fromkeys(wanted, "failed"))
        if not wanted:
            return outcome
        backoff = Backoff(first=self.backoff_seconds, maximum=max(self.backoff_seconds * 8, 0.01))
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "capo-worker",
        }
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout_seconds),
            follow_redirects=False,
        ) as client:
            for attempt in range(1, self.attempts + 1):
                pending = outcome.failed_tags
                body = {"tags": pending, "source": source, "requestId": request_id}
                started = time.perf_counter()
                reply = await self._post(client, body, headers)
                for tag in reply.invalidated:
                    if tag in outcome.tags:
                        outcome.tags[tag] = "invalidated"
                outcome.attempts.append(
                    _attempt_record(attempt, pending, started, reply.status_code, reply.error)
                )
                if outcome.success:
                    outcome.error = None
                    break
                outcome.error = reply.error or "some tags were not invalidated"
                if not reply.retryable:
                    outcome.permanent = True
                    break
                if attempt < self.attempts:
                    delay = backoff.next()
                    if reply.retry_after is not None:
                        delay = max(delay, reply.retry_after)
                    log.warning(
                        "Cache invalidation attempt %d/%d failed (%s); retrying %d tag(s) in %.1fs",
                        attempt,
                        self.attempts,
                        outcome.error,
                        len(outcome.failed_tags),
                        delay,
                    )
                    await self._sleep(delay)
        self._log_outcome(outcome, request_id)
        return outcome

    async def _post(
        self, client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str]
    ) -> _Reply:
        try:
            # httpx's timeout bounds each phase; this bounds the whole request,
            # so a server that trickles its answer cannot hold the job.
            async with (
                asyncio.timeout(self.timeout_seconds),
                client.stream("POST", self.url, json=body, headers=headers) as response,
            ):
                answer = await _read_capped(response)
                read = _as_read(response, answer.start)
        except (TimeoutError, httpx.TimeoutException):
            return _Reply([], f"no response within {self.timeout_seconds:g}s")
        except httpx.ConnectError as exc:
            return _Reply([], f"cannot connect to {self.url}: {one_line(exc) or 'refused'}")
        except httpx.HTTPError as exc:
            reason = one_line(exc) or type(exc).__name__
            return _Reply([], f"request to {self.url} failed: {bounded_text(reason)}")
        if answer.oversized is not None:
            return _oversized_reply(response, answer)
        return _read_reply(read, body["tags"])

    def _log_outcome(self, outcome: Invalidation, request_id: str | None) -> None:
        extra = {"request_id": request_id, "attempts": len(outcome.attempts)}
        if outcome.success:
            log.info(
                "Cache invalidated: %s (%d attempt(s))",
                ", ".join(outcome.invalidated_tags),
                len(outcome.attempts),
                extra=extra,
            )
            return
        metrics.CACHE_INVALIDATION_FAILURES.inc()
        log.error(
            "Cache invalidation failed after %d attempt(s): %s; not invalidated: %s",
            len(outcome.attempts),
            outcome.error,
            ", ".join(outcome.failed_tags),
            extra=extra,
        )


def _attempt_record(
    attempt: int, tags: list[str], started: float, status_code: int | None, error: str | None
) -> CacheAttempt:
    record = CacheAttempt(
        attempt=attempt,
        tags=tags,
        status_code=status_code,
        duration_ms=round((time.perf_counter() - started) * 1000),
    )
    if error is not None:
        record.error = error
    return record


@dataclass
class _Answer:
    oversized: int | None  # the answer's length when it was longer than MAX_ANSWER_BYTES
    start: bytes  # what was read of it


async def _read_capped(response: httpx.Response) -> _Answer:
    """Read the answer if it is at most MAX_ANSWER_BYTES; else only its start.

    A long one is not read further than the cap, and its length is taken
    from Content-Length when the server sent one.
    """
    declared = response.headers.get("content-length")
    size = int(declared) if declared and declared.isdigit() else None
    if size is not None and size > MAX_ANSWER_BYTES:
        start = b""
        async for chunk in response.aiter_raw():
            start += chunk
            if len(start) >= _BODY_EXCERPT:
                break
        return _Answer(size, start)
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) > MAX_ANSWER_BYTES:
            return _Answer(size if size is not None else len(data), data)
    return _Answer(None, data)


def _as_read(response: httpx.Response, data: bytes) -> httpx.Response:
    """The streamed answer as a response read in full (`data`, already decoded)."""
    headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-encoding"]
    return httpx.Response(
        response.status_code, headers=headers, content=data, request=response.request
    )


def _oversized_reply(response: httpx.Response, answer: _Answer) -> _Reply:
    status = response.status_code
    size = f"{answer.oversized:,} bytes"
    if response.headers.get("content-length") is None:
        size = f"more than {MAX_ANSWER_BYTES:,} bytes"
    start = " ".join(answer.start[:_BODY_EXCERPT].decode("utf-8", "replace").split())
    retryable = status >= 500 or status in RETRYABLE_STATUS or 200 <= status < 300
    return _Reply(
        [],
        f"HTTP {status}: an answer of {size}, too long to read (starts: {start})",
        retryable=retryable,
        status_code=status,
    )


def _read_reply(response: httpx.Response, sent: list[str]) -> _Reply:
    """Interpret one HTTP answer of the invalidation endpoint."""
    status = response.status_code
    data = _json_object(response)
    if 200 <= status < 300:
        if data is None or not isinstance(data.get("success"), bool):
            return _Reply([], f"HTTP {status} without the expected JSON body", status_code=status)
        failed = set(_tag_list(data.get("failed_tags")))
        if data["success"] and not failed:
            return _Reply(list(sent), status_code=status)
        # Partial failure (207): trust only tags the app says it invalidated;
        # anything it does not mention is sent again.
        done = set(_tag_list(data.get("invalidated_tags"))) - failed
        error = data.get("error") if isinstance(data.get("error"), str) else None
        return _Reply(
            [t for t in sent if t in done],
            f"HTTP {status}: {bounded_text(error or 'some tags failed')}",
            status_code=status,
        )
    detail = data.get("error") if data is not None else None
    if isinstance(detail, str) and detail:
        detail = bounded_text(detail)
    else:
        detail = " ".join(response.text.split())[:_BODY_EXCERPT] or response.reason_phrase
    if 300 <= status < 400:
        where = bounded_text(response.headers.get("location", "?"), _BODY_EXCERPT)
        return _Reply(
            [],
            f"HTTP {status}: redirected to {where}; set CACHE_INVALIDATION_URL to the final URL",
            retryable=False,
            status_code=status,
        )
    retryable = status >= 500 or status in RETRYABLE_STATUS
    return _Reply(
        [],
        f"HTTP {status}: {detail}",
        retryable=retryable,
        retry_after=_retry_after(response) if retryable else None,
        status_code=status,
    )


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _tag_list(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (the date form is ignored), capped."""
    value = response.headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    if seconds is None or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER_SECONDS)


def build_invalidator(settings: Settings) -> WebhookInvalidator | None:
    """The configured webhook client, or None when no app URL is set (invalidation skipped)."""
    url = settings.invalidation_url
    if url is None:
        return None
    if not settings.internal_api_key:  # config validation already refuses this
        raise ValueError("INTERNAL_API_KEY is required when a cache invalidation URL is set")
    return WebhookInvalidator(
        url,
        settings.internal_api_key,
        timeout_seconds=settings.cache_invalidation_timeout_seconds,
    )
