"""Session tokens (signed, expiring) and who may listen where: no database."""

from __future__ import annotations

import time

import pytest

from capo_worker.config import ConfigError
from capo_worker.hostnames import is_loopback
from capo_worker.web.security import (
    check_listen_allowed,
    issue_session,
    read_session,
)
from capo_worker.web.sessions import Epochs
from tests.support.web import (
    ADMIN_KEY,
    settings_for,
)


def test_session_tokens_are_signed_and_expire() -> None:
    epochs = Epochs(every_session=3, browser=1)
    token = issue_session(ADMIN_KEY, "browser-a", epochs, now=1000.0)
    session = read_session(ADMIN_KEY, token, now=1001.0)
    assert session is not None and (session.browser, session.epochs) == ("browser-a", epochs)
    assert read_session(ADMIN_KEY, token, now=1000.0 + 13 * 3600) is None  # expired
    assert read_session(ADMIN_KEY, token, now=1000.0 + 13 * 3600, expired_too=True)
    assert read_session("another-key", token, now=1001.0) is None  # key changed
    expires, browser, every, mine, signature = token.split(".")
    for forged in (
        f"{int(expires) + 9999}.{browser}.{every}.{mine}.{signature}",  # longer life
        f"{expires}.{browser}.{every}.{int(mine) + 1}.{signature}",  # a newer epoch
        f"{expires}.browser-b.{every}.{mine}.{signature}",  # another browser
    ):
        assert read_session(ADMIN_KEY, forged, now=1001.0) is None
    assert read_session(ADMIN_KEY, "garbage", now=1001.0) is None
    assert read_session(ADMIN_KEY, "", now=time.time()) is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.com", False),
    ],
)
def test_without_a_key_only_loopback_is_allowed(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    open_settings = settings_for("postgresql://x/y", host=host)
    if loopback:
        check_listen_allowed(open_settings)
    else:
        with pytest.raises(ConfigError, match="ADMIN_API_KEY"):
            check_listen_allowed(open_settings)
    check_listen_allowed(settings_for("postgresql://x/y", host=host, admin_api_key=ADMIN_KEY))


@pytest.mark.parametrize(("host", "refused"), [("0.0.0.0", True), ("127.0.0.1", False)])
def test_a_short_key_may_not_guard_a_public_address(host: str, refused: bool) -> None:
    short = settings_for("postgresql://x/y", host=host, admin_api_key="fifteen-chars!!")
    if refused:
        with pytest.raises(ConfigError, match="at least 16 characters"):
            check_listen_allowed(short)
    else:
        check_listen_allowed(short)
    long_enough = settings_for("postgresql://x/y", host=host, admin_api_key="sixteen-chars!!!")
    check_listen_allowed(long_enough)
