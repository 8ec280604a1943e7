"""Figures of the fault scenarios: written by the tests, rendered into docs/reliability.md.

Each scenario run that passes writes
`test-output/reliability/<scenario>-<run>-<server>.json` (run: quick or long;
server: embedded, or server for TEST_DATABASE_URL).
`python -m tests.acceptance.fault.figures` puts a table per scenario between the
markers of docs/reliability.md (`<!-- figures: <scenario>: begin -->` ...
`end -->`) and leaves the rest of the document alone; `--check` only says
whether the document is current.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.support.paths import REPO

OUTPUT_DIR = REPO / "test-output" / "reliability"
DOC = REPO / "docs" / "reliability.md"

# Scenario keys, in the document's order, with the numbering.
SCENARIOS = {
    "worker-killed": "1. Worker killed",
    "database-restart": "2. Database restart",
    "database-unreachable": "3. Database unreachable at start-up",
    "webapp-down": "4. Web app down",
    "graceful-shutdown": "5. Graceful shutdown under load",
    "enqueue-load": "6. Enqueue load",
    "bad-input": "7. Bad input",
    "access": "8. Access",
    "broken-league": "9. Broken league data",
    "frozen-worker": "10. Frozen worker",
    "partition": "11. Network partition",
    "stale-attempt": "12. Stale attempt",
    "huge-outcome": "13. Huge outcome",
    "page-load": "14. Page load",
    "odd-rows": "15. Odd rows",
}
RUN_ORDER = ("quick", "long")


@dataclass
class Figures:
    """One run of one scenario: the common columns, then the scenario's own figures."""

    scenario: str
    run: str  # "quick" (default suite) or "long" (--run-slow)
    load: str
    faults: str
    jobs_in: int | str | None
    jobs_completed: int | str | None
    lost: int | None
    duplicated_at_once: int | None
    stranded: int | None
    recovery: str
    details: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    measured_at: str = ""
    duration_seconds: float | None = None
    test: str = ""

    def write(self) -> Path:
        assert self.scenario in SCENARIOS, self.scenario
        self.measured_at = self.measured_at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        server = "server" if self.environment.get("server") == "TEST_DATABASE_URL" else "embedded"
        path = OUTPUT_DIR / f"{self.scenario}-{self.run}-{server}.json"
        path.write_text(json.dumps(asdict(self), indent=2, default=str) + "\n")
        return path


def load_all(directory: Path = OUTPUT_DIR) -> dict[str, list[Figures]]:
    found: dict[str, list[Figures]] = {key: [] for key in SCENARIOS}
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text())
        if data.get("scenario") in found:
            found[data["scenario"]].append(Figures(**data))
    for runs in found.values():
        runs.sort(
            key=lambda f: (
                f.environment.get("server") != "embedded",
                RUN_ORDER.index(f.run) if f.run in RUN_ORDER else 99,
            )
        )
    return found


def _label(f: Figures) -> str:
    """'quick' or 'long', with the server when it was not the embedded one."""
    if f.environment.get("server") == "TEST_DATABASE_URL":
        return f"{f.run}, PostgreSQL {f.environment.get('postgresql', '?')} server"
    return f.run


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def render(scenario: str, runs: list[Figures]) -> str:
    if not runs:
        command = "python -m tests.acceptance.fault.figures"
        return f"_No figures yet: run the scenario, then `{command}`._"
    lines = [
        "| run | load | faults injected | jobs in | jobs completed | lost "
        "| duplicated at once | stranded | recovery time |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for f in runs:
        cells = [
            _label(f),
            f.load,
            f.faults,
            f.jobs_in,
            f.jobs_completed,
            f.lost,
            f.duplicated_at_once,
            f.stranded,
            f.recovery,
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    for f in runs:
        env = f.environment
        where = (
            f"PostgreSQL {env.get('postgresql', '?')} ({env.get('server', '?')}), "
            f"{env.get('cpus', '?')} cores, "
            f"load average {env.get('load_average', '?')} at the start"
        )
        took = f", {f.duration_seconds:.0f} s" if f.duration_seconds is not None else ""
        lines.append("")
        label = _label(f)
        lines.append(f"{label[0].upper()}{label[1:]} run, {f.measured_at[:10]}{took}; {where}:")
        lines.append("")
        for key, value in f.details.items():
            lines.append(f"- {key}: {_cell(value)}")
    return "\n".join(lines)


def _markers(scenario: str) -> tuple[str, str]:
    return (f"<!-- figures: {scenario}: begin -->", f"<!-- figures: {scenario}: end -->")


def update_document(text: str, found: dict[str, list[Figures]]) -> str:
    for scenario, runs in found.items():
        begin, end = _markers(scenario)
        first = text.find(begin)
        last = text.find(end, first)
        if first < 0 or last < 0:
            raise SystemExit(f"{DOC}: no markers for {scenario!r} ({begin} ... {end})")
        if not runs:
            continue  # keep what the document has: figures of an earlier run
        block = f"{begin}\n{render(scenario, runs)}\n{end}"
        text = text[:first] + block + text[last + len(end) :]
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the document is stale")
    parser.add_argument("--from", dest="source", type=Path, default=OUTPUT_DIR)
    args = parser.parse_args(argv)
    found = load_all(args.source)
    if not any(found.values()):
        print(f"no figures in {args.source}: run the fault scenarios first", file=sys.stderr)
        return 1
    before = DOC.read_text()
    after = update_document(before, found)
    if args.check:
        print(
            "docs/reliability.md is current" if after == before else "docs/reliability.md is stale"
        )
        return 0 if after == before else 1
    DOC.write_text(after)
    missing = [SCENARIOS[k] for k, runs in found.items() if not runs]
    print(f"updated {DOC.relative_to(REPO)} from {args.source}")
    if missing:
        print("no figures (document kept as it was) for: " + ", ".join(missing))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
