"""The `capo-worker` command tree: every command, and the module that holds it.

Tables for people, --json for scripts. Configuration mistakes, unreachable
databases and refusals end a command with one line on stderr (exit status 2),
never a traceback.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperOption

from capo_worker.cli import demo, jobs, league, schema, services, stats
from capo_worker.cli.common import err
from capo_worker.config import ConfigError
from capo_worker.league.model import LeagueFileError
from capo_worker.migrate import MigrationError
from capo_worker.rollback import RollbackRefusedError
from capo_worker.runtime import DatabaseUnavailableError, SchemaBehindError
from capo_worker.tenants import UnknownTenantError

_typer_display_type = getattr(TyperOption, "display_type_rich", None)


def _flags_without_type(option: TyperOption, ctx: typer.Context) -> str | None:
    """Typer's help panels label every flag `<bool>`, as if it took a value: show no type."""
    assert _typer_display_type is not None
    return None if option.is_flag else _typer_display_type(option, ctx)


if _typer_display_type is not None:  # a Typer without it has its own way (tests check --help)
    TyperOption.display_type_rich = _flags_without_type  # type: ignore[method-assign,assignment]

app = typer.Typer(
    help="Keeps a football league's statistics current: job queue, worker, stats, admin page.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
jobs_app = typer.Typer(help="List, inspect, retry and prune jobs.", no_args_is_help=True)
league_app = typer.Typer(help="Import or generate league data.", no_args_is_help=True)
stats_app = typer.Typer(help="Run the stats functions directly.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
app.add_typer(league_app, name="league")
app.add_typer(stats_app, name="stats")

# The order of `capo-worker --help`.
app.command()(schema.migrate)
app.command()(services.worker)
app.command()(services.run)
app.command()(services.web)
app.command()(demo.demo)
app.command("check-config")(schema.check_config)
app.command()(jobs.enqueue)
jobs_app.command("list")(jobs.jobs_list)
jobs_app.command("show")(jobs.jobs_show)
jobs_app.command("retry")(jobs.jobs_retry)
jobs_app.command("prune")(jobs.jobs_prune)
app.command("prepare-rollback")(schema.prepare_rollback)
league_app.command("import")(league.league_import)
league_app.command("demo")(league.league_demo)
stats_app.command("run")(stats.stats_run)

# Errors that end a command with a one-line message instead of a traceback.
USER_ERRORS = (
    ConfigError,
    DatabaseUnavailableError,
    LeagueFileError,
    UnknownTenantError,
    stats.StatsRunUsageError,
    SchemaBehindError,
    MigrationError,
    RollbackRefusedError,
    jobs.JobIdError,
)


def main() -> None:
    try:
        app()
    except USER_ERRORS as exc:
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
