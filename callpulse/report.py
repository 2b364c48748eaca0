"""The replay report (``spec/METRICS.md``, "Report format") and its readable table."""

from __future__ import annotations

from typing import Any

from .agents import AgentTally
from .engine import Engine
from .tally import Tally, report_keys
from .timeframes import Calendar


def build_report(
    engine: Engine, *, from_ms: int, until_ms: int, interval_s: int, timezone: str,
    sl_formula: str, sl_threshold_s: float,
) -> dict[str, Any]:
    """The report over ``[from_ms, until_ms)``: per queue and agent, a total and every interval
    (empty ones included). Totals are the sums of the listed intervals."""
    queues: dict[str, Any] = {}
    for (tenant, name), q in sorted(engine.queues.items()):
        total = Tally()
        intervals = []
        for start, q_tally in q.report_intervals(from_ms, until_ms):
            total.add(q_tally)
            intervals.append(_span(q.calendar, start) | report_keys(q_tally, q.cfg.sl_formula))
        key = name if tenant == "default" else f"{tenant}/{name}"
        queues[key] = {
            "timezone": q.cfg.timezone, "sl_formula": q.cfg.sl_formula,
            "sl_threshold_s": q.cfg.sl_threshold_s,
            "total": report_keys(total, q.cfg.sl_formula), "intervals": intervals,
            "janitor": dict(sorted(q.janitor.items())),
        }
    agents: dict[str, Any] = {}
    for (tenant, name), a in sorted(engine.agents.items()):
        total_a = AgentTally()
        rows = []
        for start in a.calendar.starts(from_ms, until_ms):
            tally = a.intervals.get(start) or AgentTally()
            total_a.add(tally)
            rows.append(_span(a.calendar, start) | tally.report_keys())
        key = name if tenant == "default" else f"{tenant}/{name}"
        agents[key] = {"total": total_a.report_keys(), "intervals": rows}
    return {
        "interval_s": interval_s, "timezone": timezone, "sl_formula": sl_formula,
        "sl_threshold_s": sl_threshold_s, "from": _iso(engine, timezone, from_ms),
        "until": _iso(engine, timezone, until_ms), "queues": queues, "agents": agents,
        "rejected": dict(sorted(engine.rejected.items())),
    }


def _span(calendar: Calendar, start: int) -> dict[str, Any]:
    return {"start": calendar.iso(start), "end": calendar.iso(calendar.next_interval(start))}


def _iso(engine: Engine, timezone: str, ts_ms: int) -> str:
    return Calendar(timezone, 0, engine.params.interval_ms).iso(ts_ms)


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return str(value)


_QUEUE_COLUMNS = (
    ("offered", "offered"), ("answered", "answ"), ("abandoned", "aband"),
    ("flowed_out", "flow"), ("service_level_ratio", "SL"), ("abandon_ratio", "ab%"),
    ("asa_s", "ASA s"), ("max_wait_s", "max wait"), ("aht_s", "AHT s"),
)
_AGENT_COLUMNS = (
    ("answered", "answ"), ("handled", "handled"), ("login_s", "login s"),
    ("available_s", "avail s"), ("talk_s", "talk s"), ("wrapup_s", "wrap s"),
    ("not_ready_s", "not ready s"), ("occupancy_ratio", "occupancy"),
)


def render_table(report: dict[str, Any]) -> str:
    """A readable text rendering of a report: per queue, its intervals and total; then agents."""
    lines = [
        f"callpulse replay  {report['from']} .. {report['until']}  interval {report['interval_s']}s"
    ]
    for name, q in report["queues"].items():
        lines.append("")
        lines.append(f"queue {name}  (SL {q['sl_formula']}, T={_fmt(q['sl_threshold_s'])}s, "
                     f"{q['timezone']})")
        lines.extend(_table(q["intervals"], q["total"], _QUEUE_COLUMNS))
    for name, a in report["agents"].items():
        lines.append("")
        lines.append(f"agent {name}")
        lines.extend(_table(a["intervals"], a["total"], _AGENT_COLUMNS))
    if report["rejected"]:
        lines.append("")
        lines.append("rejected: " + ", ".join(f"{k} {v}" for k, v in report["rejected"].items()))
    return "\n".join(lines) + "\n"


def _table(
    rows: list[dict[str, Any]], total: dict[str, Any], columns: tuple[tuple[str, str], ...],
) -> list[str]:
    header = ["interval"] + [title for _, title in columns]
    body = [[r["start"][:16].replace("T", " ")] + [_fmt(r[k]) for k, _ in columns] for r in rows]
    body.append(["total"] + [_fmt(total[k]) for k, _ in columns])
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    return [
        "  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in
                  enumerate(zip(row, widths, strict=True)))
        for row in [header, *body]
    ]
