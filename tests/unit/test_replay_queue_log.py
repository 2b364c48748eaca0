"""`callpulse replay` of a queue_log day with every event type, against hand-computed figures.

The fixture (tests/fixtures/queue_log_all_events.log) is a 2024-03-04 UTC day: queues `support`
and `sales`, agents SIP/1001, SIP/1002, Agent/1003. Waits and talk times are Asterisk's own fields.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from callpulse.cli import main

FIXTURE = Path(__file__).parent.parent / "fixtures" / "queue_log_all_events.log"


@pytest.fixture(scope="module")
def report() -> dict:  # type: ignore[type-arg]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["replay", str(FIXTURE), "--json", "--interval", "1h"]) == 0
    return json.loads(out.getvalue())  # type: ignore[no-any-return]


def test_support_totals(report: dict) -> None:  # type: ignore[type-arg]
    t = report["queues"]["support"]["total"]
    # Answered waits 20, 12, 5, 7, 25 (T = 20 s: four within, 20 counts); abandoned 45;
    # flowed out: exit_key 30, full 0, overflow 90.
    assert (t["offered"], t["answered"], t["answered_within_sl"]) == (9, 5, 4)
    assert (t["abandoned"], t["short_abandoned"], t["flowed_out"]) == (1, 0, 3)
    assert t["flowed_out_by_reason"] == {"exit_key": 1, "full": 1, "overflow": 1}
    assert t["service_level_ratio"] == pytest.approx(4 / 6, abs=1e-6)  # 4 / (5 + 1 - 0)
    assert t["abandon_ratio"] == pytest.approx(1 / 9, abs=1e-6)
    assert t["asa_s"] == pytest.approx(69 / 5)
    assert t["avg_abandon_wait_s"] == 45
    assert t["avg_wait_s"] == pytest.approx((69 + 45 + 30 + 0 + 90) / 9, abs=1e-3)
    assert t["max_wait_s"] == 90
    assert t["handled"] == 5
    assert t["avg_talk_s"] == pytest.approx((300 + 180 + 95 + 150 + 420) / 5)
    assert t["avg_acw_s"] == 30  # one WRAPUPSTART of 30 s
    assert t["aht_s"] == pytest.approx((1145 + 30) / 5)
    assert t["ring_no_answer"] == 1
    assert t["dispositions"] == {"transfer": 2}
    assert t["conversion_ratio"] == 0


def test_sales_totals(report: dict) -> None:  # type: ignore[type-arg]
    t = report["queues"]["sales"]["total"]
    assert (t["offered"], t["answered"], t["answered_within_sl"], t["abandoned"]) == (9, 3, 3, 0)
    assert t["flowed_out_by_reason"] == {"closed": 1, "no_agents": 3, "overflow": 1, "timeout": 1}
    assert t["service_level_ratio"] == 1.0
    assert t["abandon_ratio"] == 0.0
    assert t["asa_s"] == pytest.approx(22 / 3, abs=1e-3)
    assert t["max_wait_s"] == 120
    assert t["aht_s"] == pytest.approx(500 / 3, abs=1e-3)
    assert t["dispositions"] == {"transfer": 1}


def test_intervals_attribute_calls_to_their_entry_hour(report: dict) -> None:  # type: ignore[type-arg]
    rows = report["queues"]["support"]["intervals"]
    assert rows[0]["start"] == "2024-03-04T07:00:00+00:00"
    assert [r["offered"] for r in rows][:3] == [0, 4, 2]
    assert sum(r["offered"] for r in rows) == 9
    assert all(r["service_level_ratio"] is None for r in rows if r["offered"] == 0)


def test_agent_times(report: dict) -> None:  # type: ignore[type-arg]
    a = report["agents"]["Agent/1003"]["total"]
    # Logged in 07:57-12:00 and 13:00-17:00.
    assert a["login_s"] == 4 * 3600 + 3 * 60 + 4 * 3600
    assert (a["answered"], a["handled"], a["talk_s"]) == (3, 3, 500)
    assert a["available_s"] + a["talk_s"] + a["not_ready_s"] + a["wrapup_s"] == a["login_s"]


def test_ignored_lines_are_counted(report: dict) -> None:  # type: ignore[type-arg]
    assert report["rejected"] == {
        "queue_log_exit_without_enterqueue": 1, "queue_log_ringcanceled": 1,
        "queue_log_unknown_event": 3,
    }
