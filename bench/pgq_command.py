"""PgQueuer's own command line (`pgq`), as the queue benchmark runs it.

`pgq run` of pgqueuer 1.6 stops at start-up under the typer this project
installs (0.29): its `--log-level` parser hands a plain string to a function
that wants the LogLevel enum. This module converts that one argument and
otherwise runs the unchanged command, uvloop and all:

    python -m bench.pgq_command run --batch-size 25 bench.pgqueuer_app:create
"""

from __future__ import annotations

from typing import Any


def main() -> None:
    from pgqueuer import __main__ as pgq_main
    from pgqueuer.core import logconfig

    setup = logconfig.setup_fancy_logger

    def setup_with_enum(level: Any) -> None:
        setup(logconfig.LogLevel[level] if isinstance(level, str) else level)

    logconfig.setup_fancy_logger = setup_with_enum
    pgq_main.main()


if __name__ == "__main__":
    main()
