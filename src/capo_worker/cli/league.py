"""League data from the command line: league import, league demo."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from capo_worker.cli.common import err, out, run_async, settings_from_env, writing_runtime
from capo_worker.config import Settings
from capo_worker.league.importer import ImportSummary, import_league
from capo_worker.league.model import League, LeagueFileError
from capo_worker.tenants import resolve_tenant


def league_import(
    file: Annotated[
        Path, typer.Argument(help="A league file in the capo-league/1 JSON format (or .json.gz).")
    ],
    tenant: Annotated[
        str | None, typer.Option(help="Tenant name or id; a new name creates the tenant.")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the tenant's existing league.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Refuse the file if it has consistency warnings."),
    ] = False,
    renumber: Annotated[
        bool,
        typer.Option("--renumber", help="Give the league new ids if another tenant uses its ids."),
    ] = False,
) -> None:
    """Validate a league file, then load it in one transaction (nothing is written on error)."""
    from capo_worker.league.checks import check_league
    from capo_worker.league.model import load_league_file

    settings = settings_from_env()
    league = load_league_file(file)
    _print_league_warnings(check_league(league, strict=strict, source=str(file)))
    summary = run_async(lambda: _import_into_tenant(settings, league, tenant, replace, renumber))
    _print_import_summary(summary)


def league_demo(
    size: Annotated[str, typer.Option(help="tiny, small, capo or large.")] = "small",
    seed: Annotated[int, typer.Option(help="The same seed gives the same league.")] = 1,
    as_of: Annotated[
        str | None, typer.Option(help="Last day of the league (YYYY-MM-DD); default today.")
    ] = None,
    tenant: Annotated[
        str | None, typer.Option(help="Tenant name or id; a new name creates the tenant.")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the tenant's existing league.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(help="Write the league JSON to this file ('-' for stdout) instead."),
    ] = None,
) -> None:
    """Generate a realistic demo league and load it (or write it with --output)."""
    from capo_worker.league.demo import SIZES, generate_league
    from capo_worker.league.model import dump_league

    if size not in SIZES:
        raise typer.BadParameter(f"use one of {', '.join(SIZES)}", param_hint="--size")
    try:
        end = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise typer.BadParameter(
            f"{as_of!r} is not a date (YYYY-MM-DD)", param_hint="--as-of"
        ) from None
    league = generate_league(size=size, seed=seed, as_of=end)
    if output is not None:
        text = dump_league(league)
        if str(output) == "-":
            sys.stdout.write(text)
        else:
            try:
                output.write_text(text, "utf-8")
            except OSError as exc:
                raise LeagueFileError(f"cannot write {output}: {exc.strerror or exc}") from None
            err.print(
                f"Wrote the {size} demo league (seed {seed}, {len(league.players)} players, "
                f"{len(league.matches)} matches) to {output}."
            )
        return
    settings = settings_from_env()
    # Demo ids mean nothing: move them if another tenant already uses them.
    summary = run_async(lambda: _import_into_tenant(settings, league, tenant, replace, True))
    _print_import_summary(summary)
    out.print("Compute its statistics with: capo-worker stats run" + _tenant_flag(tenant))


def _tenant_flag(tenant: str | None) -> str:
    return f" --tenant {tenant}" if tenant else ""


async def _import_into_tenant(
    settings: Settings, league: League, tenant: str | None, replace: bool, renumber: bool
) -> ImportSummary:
    async with (
        writing_runtime(settings) as rt,
        rt.pool.connection() as conn,
        conn.transaction(),
    ):
        tenant_id = await resolve_tenant(conn, tenant, create=True)
        return await import_league(conn, league, tenant_id, replace=replace, renumber=renumber)


def _print_league_warnings(warnings: list[str], shown: int = 10) -> None:
    for warning in warnings[:shown]:
        err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    if len(warnings) > shown:
        err.print(f"warning: ... and {len(warnings) - shown} more (--strict refuses them)")


def _print_import_summary(summary: ImportSummary) -> None:
    out.print(
        f"Imported {summary.players} players, {summary.matches} matches, "
        f"{summary.player_matches} player_matches and {summary.app_config} config keys "
        f"into tenant {summary.tenant_id}.",
        markup=False,
        highlight=False,
    )
    if summary.id_shift:
        shifts = ", ".join(f"{table} +{n}" for table, n in summary.id_shift.items())
        out.print(f"Ids were in use by another tenant and were shifted: {shifts}.")
