"""Start capo-worker processes against a test database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.paths import REPO

# Variables of the developer's environment that must not leak into a test process.
_CLEARED = (
    "DATABASE_URL",
    "SUPABASE_URL",
    "NEXT_PUBLIC_APP_URL",
    "CACHE_INVALIDATION_URL",
    "ADMIN_API_KEY",
    "INTERNAL_API_KEY",
    "WORKER_ID",
    "LOG_LEVEL",
    "LOG_FORMAT",
)


def process_env(db_url: str | None, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if db_url is not None:
        env["DATABASE_URL"] = db_url
    env.update(settings)
    return env


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log_path: Path, cwd: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "capo_worker", *args],
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: signal.Signals) -> None:
        self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        code = self.popen.wait(timeout)
        self._log.close()
        return code

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


@contextmanager
def processes(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    """A factory of capo-worker processes, all stopped when the block ends."""
    started: list[Process] = []

    def start(args: list[str], env: dict[str, str], name: str) -> Process:
        proc = Process(args, env, tmp_path / f"{name}.log", tmp_path)
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            proc.stop()


def run_command(
    *args: str, db_url: str, timeout: float = 300, **settings: str
) -> subprocess.CompletedProcess[str]:
    """A one-shot `capo-worker ARGS` on `db_url` with extra `settings` in its environment,
    its output captured (LOG_LEVEL unset)."""
    env = {**os.environ, "DATABASE_URL": db_url, **settings}
    env.pop("LOG_LEVEL", None)
    return subprocess.run(
        [str(Path(sys.executable).parent / "capo-worker"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    """A TCP port nothing listens on now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
