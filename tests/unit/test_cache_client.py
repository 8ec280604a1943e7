"""The cache-invalidation webhook client against the stand-in web app
(tests/support/webapp.py): bodies, retries, backoff, 207s, timeouts, oversized answers; and
when a retry may reuse the stats.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import REGISTRY

from capo_worker.cache import Invalidation, WebhookInvalidator, build_invalidator
from capo_worker.config import load_settings
from capo_worker.constants import DEFAULT_TENANT_ID, TEXT_LIMIT
from capo_worker.stats.job import (
    reusable_stats,
)
from capo_worker.stats.registry import STATS_FUNCTIONS
from tests.support.webapp import KEY, PATH, RecordedSleeps, StandInWebApp, client, running_webapp


@pytest.fixture
def webapp() -> Iterator[StandInWebApp]:
    with running_webapp() as app:
        yield app


def sleeps(invalidator: WebhookInvalidator) -> list[float]:
    recorder = invalidator._sleep
    assert isinstance(recorder, RecordedSleeps)
    return recorder.delays


def failures_metric() -> float:
    return REGISTRY.get_sample_value("capo_cache_invalidation_failures_total") or 0.0


TAGS = ["season_stats", "half_season_stats", "hall_of_fame"]


async def send(invalidator: WebhookInvalidator, tags: list[str] = TAGS) -> Invalidation:
    return await invalidator.invalidate(tags, source="job-admin", request_id="req-1")


async def test_success_sends_the_exact_body_and_bearer_header(webapp: StandInWebApp) -> None:
    outcome = await send(client(webapp))
    assert outcome.success and outcome.tags == dict.fromkeys(TAGS, "invalidated")
    [request] = webapp.received
    assert request.path == PATH
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {"tags": TAGS, "source": "job-admin", "requestId": "req-1"}
    assert outcome.to_json()["attempts"] == [
        {
            "attempt": 1,
            "tags": TAGS,
            "status_code": 200,
            "duration_ms": outcome.attempts[0].duration_ms,
        }
    ]


async def test_two_500s_then_success_with_growing_backoff(webapp: StandInWebApp) -> None:
    webapp.plan = [500, 500]
    before = failures_metric()
    invalidator = client(webapp)
    outcome = await send(invalidator)
    assert outcome.success and outcome.error is None
    assert [a.status_code for a in outcome.attempts] == [500, 500, 200]
    assert outcome.attempts[0].error == "HTTP 500: boom 500"
    assert webapp.tag_lists == [TAGS, TAGS, TAGS]
    first, second = sleeps(invalidator)
    assert 0 < first < second  # exponential: about 1 s, then about 2 s
    assert failures_metric() == before


async def test_three_500s_fail_after_three_attempts(webapp: StandInWebApp) -> None:
    webapp.plan = [500, 500, 500, 500]
    before = failures_metric()
    outcome = await send(client(webapp))
    assert not outcome.success and not outcome.permanent
    assert len(webapp.received) == 3
    assert outcome.failed_tags == TAGS and outcome.error == "HTTP 500: boom 500"
    assert failures_metric() == before + 1


async def test_a_long_error_is_cut_to_a_few_kb_with_its_length(webapp: StandInWebApp) -> None:
    webapp.plan = ["error-of-20000"] * 3
    outcome = await send(client(webapp))
    expected = f"HTTP 500: {'E' * TEXT_LIMIT}... [cut: 20,000 characters in all]"
    assert outcome.error == expected
    assert [a.error for a in outcome.attempts] == [expected] * 3


async def test_an_answer_too_long_to_read_is_reported_by_its_size(webapp: StandInWebApp) -> None:
    webapp.plan = ["error-of-5000000"] * 3
    outcome = await send(client(webapp))
    size = len(json.dumps({"success": False, "error": ""})) + 5_000_000
    assert outcome.error is not None and not outcome.permanent  # a 500: retried
    assert outcome.error.startswith(
        f'HTTP 500: an answer of {size:,} bytes, too long to read (starts: {{"success": false'
    )
    assert len(outcome.error) < 400 and len(outcome.attempts) == 3


async def test_a_hung_request_times_out_and_is_retried(webapp: StandInWebApp) -> None:
    webapp.plan = ["hang", "hang", "hang"]
    outcome = await send(client(webapp, timeout=0.3))
    assert not outcome.success and not outcome.permanent
    assert len(outcome.attempts) == 3 and len(webapp.received) == 3
    assert all(a.error == "no response within 0.3s" for a in outcome.attempts)
    assert all(a.status_code is None for a in outcome.attempts)
    assert outcome.to_json()["failed_tags"] == TAGS


async def test_a_wrong_key_gets_401_and_is_not_retried(webapp: StandInWebApp) -> None:
    before = failures_metric()
    outcome = await send(client(webapp, key="wrong-key"))
    assert len(webapp.received) == 1
    assert webapp.received[0].headers["authorization"] == "Bearer wrong-key"
    assert not outcome.success and outcome.permanent
    assert outcome.error == "HTTP 401: Unauthorized - Invalid or missing API key"
    assert failures_metric() == before + 1


@pytest.mark.parametrize("status", [400, 403, 404, 422])
async def test_other_4xx_are_not_retried(webapp: StandInWebApp, status: int) -> None:
    webapp.plan = [status]
    outcome = await send(client(webapp))
    assert len(webapp.received) == 1 and outcome.permanent and not outcome.success


@pytest.mark.parametrize("status", [408, 429, 502, 503])
async def test_408_429_and_5xx_are_retried(webapp: StandInWebApp, status: int) -> None:
    webapp.plan = [status]
    outcome = await send(client(webapp))
    assert outcome.success and [a.status_code for a in outcome.attempts] == [status, 200]


async def test_retry_after_is_honoured(webapp: StandInWebApp) -> None:
    webapp.plan = [429]
    webapp.retry_after = "7"
    invalidator = client(webapp)
    assert (await send(invalidator)).success
    assert sleeps(invalidator) == [7.0]


async def test_a_2xx_without_the_json_body_counts_as_failed(webapp: StandInWebApp) -> None:
    webapp.plan = ["not-json"]
    outcome = await send(client(webapp))
    assert outcome.success and len(outcome.attempts) == 2
    assert outcome.attempts[0].error == "HTTP 200 without the expected JSON body"


async def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    invalidator = WebhookInvalidator(
        f"http://127.0.0.1:{port}{PATH}", KEY, timeout_seconds=5, sleep=RecordedSleeps()
    )
    outcome = await send(invalidator)
    assert not outcome.success and not outcome.permanent and len(outcome.attempts) == 3
    assert outcome.error is not None and outcome.error.startswith(
        f"cannot connect to http://127.0.0.1:{port}{PATH}"
    )


async def test_207_resends_only_the_failed_tags(webapp: StandInWebApp) -> None:
    webapp.broken = {"hall_of_fame": 1}
    outcome = await send(client(webapp))
    assert outcome.success
    assert webapp.tag_lists == [TAGS, ["hall_of_fame"]]
    assert [a.status_code for a in outcome.attempts] == [207, 200]
    assert outcome.tags == dict.fromkeys(TAGS, "invalidated")


async def test_207_that_persists_records_each_tag(webapp: StandInWebApp) -> None:
    webapp.broken = {"hall_of_fame": -1}
    outcome = await send(client(webapp))
    assert not outcome.success and not outcome.permanent
    assert webapp.tag_lists == [TAGS, ["hall_of_fame"], ["hall_of_fame"]]
    recorded = outcome.to_json()
    assert recorded["tags"] == {
        "season_stats": "invalidated",
        "half_season_stats": "invalidated",
        "hall_of_fame": "failed",
    }
    assert recorded["invalidated_tags"] == ["season_stats", "half_season_stats"]
    assert recorded["failed_tags"] == ["hall_of_fame"]
    assert recorded["error"] == "HTTP 207: Failed to invalidate 1 tags"


def test_no_url_means_no_client_and_the_key_is_required() -> None:
    assert build_invalidator(load_settings(env_file=None)) is None
    configured = load_settings(
        env_file=None, next_public_app_url="https://app.example.com/", internal_api_key=KEY
    )
    invalidator = build_invalidator(configured)
    assert invalidator is not None
    assert invalidator.url == "https://app.example.com/api/internal/cache/invalidate"
    assert KEY not in repr(invalidator)


def previous_results(**changes: Any) -> dict[str, Any]:
    results: dict[str, Any] = {
        "tenant_id": DEFAULT_TENANT_ID,
        "cache_invalidation_success": False,
        "stats_attempt": 1,
        "function_results": [
            {"function": f.name, "status": "success", "duration": 5} for f in STATS_FUNCTIONS
        ],
    }
    results.update(changes)
    return results


def test_reuse_only_when_every_function_succeeded_and_invalidation_failed() -> None:
    def reusable(results: dict[str, Any] | None) -> bool:
        return reusable_stats(results, DEFAULT_TENANT_ID, STATS_FUNCTIONS) is not None

    assert reusable(previous_results())
    assert not reusable(None)
    assert not reusable({})
    assert not reusable(previous_results(cache_invalidation_success=True))
    assert not reusable(previous_results(cache_invalidation_success=None))  # skipped
    assert not reusable(previous_results(tenant_id="00000000-0000-0000-0000-000000000002"))
    one_failed = previous_results()
    one_failed["function_results"][3]["status"] = "failed"
    assert not reusable(one_failed)
    one_skipped = previous_results()
    one_skipped["function_results"][5]["status"] = "skipped"
    assert not reusable(one_skipped)
    one_missing = previous_results()
    one_missing["function_results"].pop()
    assert not reusable(one_missing)
