"""The ``callpulse`` command: ``replay`` and ``erlang`` (more subcommands join as services land)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from . import erlang
from .config import Config, load_config
from .errors import CallpulseError
from .events import datetime_to_ms
from .gc_tuning import tune_gc
from .inputs import FORMATS, detect_format
from .queue import QueueParams
from .replay import Plan, default_jobs
from .replay import run as run_replay
from .report import render_table
from .tally import SL_FORMULAS
from .timeframes import INTERVALS_MS, parse_interval, zone


def _iso_ms(text: str) -> int:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give an offset (e.g. {text}+00:00): {text!r}")
    return datetime_to_ms(value)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a whole number above 0: {text!r}")
    return int(text)


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line errors of the rest of the command: a wrong flag or value
    says what is wrong and where the help is, not the whole usage block. Subcommands' parsers
    are of the same class (argparse makes them with ``type(self)``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parser() -> tuple[argparse.ArgumentParser, Any]:
    """The ``callpulse`` parser and its subcommand set, for the services to add theirs."""
    p = _Parser(prog="callpulse", description="Real-time call-center monitor.")
    sub = p.add_subparsers(dest="command", required=True)
    register(sub)
    return p, sub


def register(sub: Any) -> None:
    """Add ``replay`` and ``erlang``; each sets ``run``, a function of the parsed arguments
    returning the exit status."""
    r = sub.add_parser("replay", help="report on a file of events (JSON Lines or queue_log)")
    r.add_argument("path", type=Path)
    r.add_argument("--format", choices=FORMATS, help="default: guessed from the content")
    r.add_argument("--config", type=Path, help="queue configuration TOML file")
    r.add_argument("--interval", choices=list(INTERVALS_MS), default="1h")
    r.add_argument("--timezone", help="IANA zone (default: the config's, else UTC)")
    r.add_argument("--day-start", help="HH:MM local (default: the config's, else 00:00)")
    r.add_argument("--sl-formula", choices=SL_FORMULAS)
    r.add_argument("--sl-threshold-s", type=float)
    r.add_argument("--short-abandon-s", type=float)
    r.add_argument("--grace-s", type=float, default=60.0,
                   help="how late an out-of-order event may arrive (default 60)")
    r.add_argument("--from", dest="from_", type=_iso_ms, metavar="ISO")
    r.add_argument("--until", type=_iso_ms, metavar="ISO")
    r.add_argument("--json", action="store_true", help="the JSON report of docs/metrics.md")
    r.add_argument("--jobs", type=_positive_int, metavar="N",
                   help="processes to fold on (default: one per CPU for files over 8 MB)")
    r.set_defaults(run=_run_replay)

    e = sub.add_parser("erlang", help="Erlang C staffing for one interval")
    e.add_argument("--calls", type=float, required=True)
    e.add_argument("--interval-s", type=float, required=True)
    e.add_argument("--aht-s", type=float, required=True)
    e.add_argument("--target-s", type=float, required=True)
    e.add_argument("--agents", type=int)
    e.add_argument("--sl-goal", type=float)
    e.add_argument("--shrinkage", type=float, default=0.0)
    e.add_argument("--json", action="store_true")
    e.set_defaults(run=_run_erlang)


def replay(args: argparse.Namespace) -> dict[str, Any]:
    """Run a replay and return its report."""
    config = load_config(args.config) if args.config else Config()
    overrides: dict[str, Any] = {
        key: value for key, value in (
            ("timezone", args.timezone), ("day_start", args.day_start),
            ("sl_formula", args.sl_formula), ("sl_threshold_s", args.sl_threshold_s),
            ("short_abandon_s", args.short_abandon_s),
        ) if value is not None
    }
    config = config.with_overrides(**overrides)
    zone(config.defaults.timezone)
    params = QueueParams(interval_ms=parse_interval(args.interval),
                         grace_ms=round(args.grace_s * 1000))
    plan = Plan(path=args.path, fmt=args.format or detect_format(args.path), config=config,
                params=params, from_ms=args.from_, until_ms=args.until)
    jobs = args.jobs if args.jobs is not None else default_jobs(args.path)
    return run_replay(plan, jobs)


def _run_replay(args: argparse.Namespace) -> int:
    tune_gc()
    report = replay(args)
    sys.stdout.write(json.dumps(report, indent=1) + "\n" if args.json else render_table(report))
    return 0


def _run_erlang(args: argparse.Namespace) -> int:
    figures = erlang.staffing(
        args.calls, args.interval_s, args.aht_s, args.target_s, agents=args.agents,
        sl_goal_ratio=args.sl_goal, shrinkage_ratio=args.shrinkage,
    )
    sys.stdout.write(json.dumps(figures) + "\n" if args.json else "".join(
        f"{k:26} {v}\n" for k, v in figures.items()))
    return 0


def run(p: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse and run; a :class:`CallpulseError` prints one line and exits 2."""
    args = p.parse_args(argv)
    try:
        status: int = args.run(args)
    except CallpulseError as exc:
        print(f"callpulse: error: {exc}", file=sys.stderr)
        return 2
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """The pure commands only; the installed ``callpulse`` adds the services
    (``launcher.cli``)."""
    return run(parser()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
