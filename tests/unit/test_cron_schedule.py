"""Cron maths: the latest and next slot of a schedule in its time zone, request ids, the catch-
up window.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from capo_worker.config import load_settings
from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.cron import (
    CATCH_UP_LIMIT,
    CronSchedule,
    catch_up_window,
    cron_enabled,
    cron_request_id,
)

NIGHTLY = CronSchedule("0 3 * * *", ZoneInfo("UTC"))


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def test_the_latest_slot_includes_the_exact_slot_time() -> None:
    assert NIGHTLY.latest_slot(at("2026-11-29T03:00:00")) == at("2026-11-29T03:00:00")
    assert NIGHTLY.latest_slot(at("2026-11-29T02:59:59")) == at("2026-11-28T03:00:00")
    assert NIGHTLY.next_slot(at("2026-11-29T03:00:00")) == at("2026-11-30T03:00:00")


def test_slots_follow_the_time_zone() -> None:
    london = CronSchedule("0 3 * * *", ZoneInfo("Europe/London"))
    assert london.latest_slot(at("2026-07-01T12:00:00")) == at("2026-07-01T02:00:00")  # BST
    assert london.latest_slot(at("2026-12-01T12:00:00")) == at("2026-12-01T03:00:00")  # GMT


def test_request_ids_name_the_slot_tenant_and_queue() -> None:
    slot = at("2026-11-29T03:00:00")
    assert cron_request_id(slot, DEFAULT_TENANT_ID, "stats-update-queue") == (
        "cron:2026-11-29T03:00:00Z"
    )
    other = "00000000-0000-0000-0000-0000000000aa"
    assert cron_request_id(slot, other, "q2") == f"cron:2026-11-29T03:00:00Z:{other}@q2"


def test_off_and_the_rollback_flag_disable_the_cron() -> None:
    assert cron_enabled(load_settings(env_file=None))
    assert not cron_enabled(load_settings(env_file=None, cron_schedule="off"))
    assert not cron_enabled(load_settings(env_file=None, cron_schedule="OFF"))
    assert not cron_enabled(load_settings(env_file=None, use_bg_jobs_cron=False))
    assert not cron_enabled(load_settings(env_file=None, use_bg_jobs_global=False))


def test_the_catch_up_window_is_an_hour_or_the_retention_if_shorter() -> None:
    assert catch_up_window(load_settings(env_file=None)) == CATCH_UP_LIMIT
    short = load_settings(env_file=None, job_retention_days=0.01)
    assert catch_up_window(short) == dt.timedelta(minutes=14.4)
