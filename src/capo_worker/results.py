"""The results JSON on a job row: one schema for every writer and every reader.

Written by the stats runner (the stats part), the stats pipeline (cache
outcome, which attempt computed the stats), the worker (who ran the attempt,
how long) and the synchronous path of the enqueue endpoint. Read back by the
retry that reuses an attempt's stats (stats/job.py), the admin page
(web/job_view.py) and `capo-worker jobs show`.

Writers build the models with the keys they mean and store `to_json()`:
only the keys that were set are written, so a result says exactly what the
README's example says. Readers call `read()`, which tolerates, explicitly:

- the Node worker's rows: `function_results` entries named `stats_function_N`,
  without cache tags; no `skipped_functions`, no `cache_invalidation` object;
- rows of older capo-worker builds, without the keys added since (`stats_scope`,
  `already_invalidated_tags`, ...), and keys this build does not know (kept);
- hand edits: a part of the wrong shape (a list where an object belongs, a
  number where a list belongs) is dropped and named in `Readable.unreadable`,
  and the rest is read.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

FunctionStatus = Literal["success", "failed", "skipped"]


def _text_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _texts(value: Any) -> Any:
    return [str(v) for v in value] if isinstance(value, list) else value


# Lenient values: a scalar of another type reads as absent, and a list's items as text,
# instead of failing the row; a list that is not a list is still unreadable.
Text = Annotated[str, BeforeValidator(lambda v: "?" if v is None else str(v))]
OptionalText = Annotated[str | None, BeforeValidator(_text_or_none)]
OptionalInt = Annotated[int | None, BeforeValidator(_int_or_none)]
Texts = Annotated[list[str], BeforeValidator(_texts)]
TextsOrNone = Annotated[
    list[str], BeforeValidator(lambda v: _texts(v) if isinstance(v, list) else [])
]


class _Part(BaseModel):
    # Keys written by other builds are kept as they are.
    model_config = ConfigDict(extra="allow")

    def to_json(self) -> dict[str, Any]:
        """What is stored: the keys that were set, in the schema's order."""
        return self.model_dump(mode="json", exclude_unset=True)


class CacheAttempt(_Part):
    """One request to the web app's invalidation endpoint."""

    attempt: OptionalInt = None
    tags: Texts = []
    status_code: OptionalInt = None
    duration_ms: OptionalInt = None
    error: OptionalText = None


class CacheOutcome(_Part):
    """`results.cache_invalidation`: skipped (and why), or every tag's outcome."""

    skipped: bool | None = None
    reason: OptionalText = None
    success: bool | None = None
    invalidated_tags: Texts = []
    failed_tags: Texts = []
    tags: dict[str, str] = {}  # tag -> "invalidated" | "failed"
    attempts: list[CacheAttempt] = []
    error: OptionalText = None
    permanent: bool | None = None  # failed in a way retrying will not fix (a 401)
    already_invalidated_tags: list[str] | None = None  # sent by an earlier attempt

    @classmethod
    def skipped_because(cls, reason: str) -> CacheOutcome:
        return cls(skipped=True, reason=reason)


class FunctionResult(_Part):
    """One entry of `results.function_results`."""

    function: Text = "?"  # the SQL function's name (the Node worker wrote stats_function_N)
    status: Text = "?"  # FunctionStatus when capo-worker wrote it
    duration: OptionalInt = None  # milliseconds
    cache_tags: TextsOrNone = []
    error: OptionalText = None
    details: dict[str, Any] | None = None  # the function's own summary (rows, scope, ...)
    scope: OptionalText = None  # what a scoped run recomputed ("full", "match 4838, ...")
    scope_reason: OptionalText = None


class JobResults(_Part):
    """The whole results object of a stats job (or of a synchronous run)."""

    total_functions: OptionalInt = None
    successful_functions: OptionalInt = None
    failed_functions: OptionalInt = None
    skipped_functions: OptionalInt = None
    stats_duration_ms: OptionalInt = None
    stats_scope: OptionalText = None  # "match 4838" (a post-match job's scope) or "full"
    tenant_id: OptionalText = None
    function_results: list[FunctionResult] = []
    stats_scope_reason: OptionalText = None
    stats_attempt: OptionalInt = None  # the attempt that computed these stats
    stats_computed_at: OptionalText = None
    stats_reused: bool | None = None  # this attempt only sent the invalidation again
    cache_invalidation: CacheOutcome | None = None
    cache_invalidation_success: bool | None = None  # None: invalidation skipped
    mode: Literal["synchronous"] | None = None  # the enqueue endpoint ran it in the request
    # Who ran the attempt: the worker adds these to any job type's results.
    worker_id: OptionalText = None
    attempt: OptionalInt = None
    duration_ms: OptionalInt = None

    @classmethod
    def read(cls, stored: Any) -> Readable:
        """The results of a row as far as they can be read (see the module's note)."""
        if stored is None:
            return Readable(None, [])
        if not isinstance(stored, dict):
            return Readable(None, ["results"])
        value: dict[str, Any] = dict(stored)
        unreadable: list[str] = []
        for _ in range(100):  # each round drops at least one unreadable part
            try:
                return Readable(cls.model_validate(value), unreadable)
            except ValidationError as exc:
                for loc in sorted({e["loc"] for e in exc.errors()}, reverse=True):
                    part = _part_name(loc)
                    if part not in unreadable:
                        unreadable.append(part)
                    value = _without(value, loc)
        return Readable(None, ["results"])


class Readable:
    """What `JobResults.read` could read, and the parts it could not (dotted paths)."""

    def __init__(self, results: JobResults | None, unreadable: list[str]) -> None:
        self.results = results
        self.unreadable = sorted(unreadable)


def _part_name(loc: tuple[int | str, ...]) -> str:
    """results.function_results for anything inside it; two levels for the cache outcome."""
    names = [str(p) for p in loc if isinstance(p, str)]
    keep = 2 if names[:1] == ["cache_invalidation"] else 1
    return ".".join(["results", *names[:keep]])


def _without(value: Any, loc: tuple[int | str, ...]) -> Any:
    """A copy of `value` without the element at `loc` (a key or a list index)."""
    if not loc:
        return value
    head, rest = loc[0], loc[1:]
    if isinstance(value, dict) and head in value:
        if not rest:
            return {k: v for k, v in value.items() if k != head}
        return {**value, head: _without(value[head], rest)}
    if isinstance(value, list) and isinstance(head, int) and 0 <= head < len(value):
        if not rest:
            return value[:head] + value[head + 1 :]
        return [*value[:head], _without(value[head], rest), *value[head + 1 :]]
    return value


def with_attempt(
    results: dict[str, Any], *, worker_id: str, attempt: int, duration_ms: int
) -> dict[str, Any]:
    """A handler's results with who ran the attempt and how long it took (any job type)."""
    # The keys of JobResults, written directly: this runs for every job.
    return {**results, "worker_id": worker_id, "attempt": attempt, "duration_ms": duration_ms}
