"""Tokens, roles, the Origin check and supervisors' commands (callpulse.access)."""

from __future__ import annotations

import pytest

from callpulse.access import (
    Ack,
    Principal,
    Refused,
    ThresholdChange,
    authenticate,
    command,
    merge_override,
    origin_allowed,
    parse_tokens,
    presented_token,
)
from callpulse.errors import ConfigError
from monitor_ui.settings import WallboardSettings

SUP = "s" * 20
VIEW = "v" * 20
TOKENS = parse_tokens([f"alice:supervisor:{SUP}", f"tv-floor-2:viewer:{VIEW}"])
ALICE = Principal("alice", "supervisor")
TV = Principal("tv-floor-2", "viewer")


def test_tokens_name_their_holder_and_role() -> None:
    assert authenticate(TOKENS, SUP) == ALICE
    assert authenticate(TOKENS, VIEW) == TV
    for wrong in (None, "", SUP[:-1], SUP + "x", "alice"):
        assert authenticate(TOKENS, wrong) is None


@pytest.mark.parametrize("entry, words", [
    ("alice", "name:role:secret"),
    ("alice:admin:" + SUP, "role"),
    ("alice:viewer:short", "16 characters"),
    ("alice:viewer:" + "x" * 16 + ";Path=/", "16 characters"),
    ("alice:viewer:" + "x" * 16 + "+y", "16 characters"),
    (":viewer:" + SUP, "name:role:secret"),
])
def test_malformed_token_settings_fail_at_start(entry: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_tokens([entry])
    with pytest.raises(ConfigError):
        WallboardSettings(wallboard_tokens=(entry,))


def test_a_secret_given_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="reuses"):
        parse_tokens([f"a:viewer:{SUP}", f"b:supervisor:{SUP}"])


def test_the_token_comes_from_the_url_a_bearer_header_or_the_cookie() -> None:
    assert presented_token(f"/?token={SUP}&tv=1", {}) == SUP
    assert presented_token("/ws", {"Authorization": f"Bearer {VIEW}"}) == VIEW
    assert presented_token("/wallboard.js", {"Cookie": f"theme=dark; callpulse_token={SUP}"}) == SUP
    assert presented_token("/", {"Cookie": "theme=dark"}) is None
    assert presented_token("/", {}) is None


def test_only_listed_origins_may_open_the_websocket() -> None:
    allowed = WallboardSettings(wallboard_port=8080,
                                wallboard_origins=("https://wall.example.com",)).allowed_origins()
    assert origin_allowed("http://127.0.0.1:8080", allowed)
    assert origin_allowed("http://localhost:8080", allowed)
    assert origin_allowed("https://WALL.example.com/", allowed)
    assert not origin_allowed("https://evil.example.net", allowed)
    assert not origin_allowed("http://127.0.0.1:8081", allowed)
    assert not origin_allowed("null", allowed)  # a sandboxed frame or a file:// page
    assert origin_allowed(None, allowed)  # not a browser: the token still decides


def test_a_viewer_can_neither_acknowledge_nor_change_thresholds() -> None:
    for msg in ({"type": "ack", "queue": "t/q", "alert": "oldest_wait_s", "since_ms": 1},
                {"type": "set_thresholds", "queue": "t/q", "changes": {"sl_threshold_s": 30}}):
        with pytest.raises(Refused) as refused:
            command(TV, msg, now_ms=5)
        assert refused.value.code == "forbidden"


def test_a_supervisor_acknowledges_one_firing_of_an_alert() -> None:
    ack = command(ALICE, {"type": "ack", "queue": "t/q", "alert": "oldest_wait_s", "since_ms": 7},
                  now_ms=9)
    assert ack == Ack("t/q", "oldest_wait_s", 7, "alice", 9)
    assert ack.key == "t/q/oldest_wait_s"


def test_a_supervisor_changes_thresholds_and_bad_values_are_refused() -> None:
    change = command(ALICE, {"type": "set_thresholds", "queue": "t/q",
                             "changes": {"sl_threshold_s": 30, "alerts": {"oldest_wait_s": {"warn": 45}}}},
                     now_ms=9)
    assert change == ThresholdChange("t/q", {"sl_threshold_s": 30,
                                             "alerts": {"oldest_wait_s": {"warn": 45}}}, "alice", 9)
    for msg, code in (
        ({"type": "set_thresholds", "queue": "t/q", "changes": {"timezone": "Europe/Paris"}}, "invalid"),
        ({"type": "set_thresholds", "queue": "t/q", "changes": {"sl_threshold_s": -1}}, "invalid"),
        ({"type": "set_thresholds", "queue": "t/q", "changes": {"alerts": {"nope": {"warn": 1}}}}, "invalid"),
        ({"type": "set_thresholds", "queue": "t/q", "changes": {}}, "bad_request"),
        ({"type": "set_thresholds", "queue": "q", "changes": {"sl_threshold_s": 30}}, "bad_request"),
        ({"type": "ack", "queue": "t/q", "alert": "nope", "since_ms": 1}, "bad_request"),
        ({"type": "ack", "queue": "t/q", "alert": "oldest_wait_s", "since_ms": True}, "bad_request"),
        ({"type": "shutdown"}, "unknown_command"),
    ):
        with pytest.raises(Refused) as refused:
            command(ALICE, msg, now_ms=1)
        assert refused.value.code == code, msg


def test_a_change_of_one_level_keeps_the_others() -> None:
    current = {"sl_threshold_s": 30.0, "alerts": {"oldest_wait_s": {"warn": 45, "crit": 90}}}
    merged = merge_override(current, {"sl_goal_ratio": 0.9, "alerts": {"oldest_wait_s": {"crit": 120},
                                                                       "abandon_ratio": {"warn": 0.1}}})
    assert merged == {"sl_threshold_s": 30.0, "sl_goal_ratio": 0.9,
                      "alerts": {"oldest_wait_s": {"warn": 45, "crit": 120},
                                 "abandon_ratio": {"warn": 0.1}}}
    assert current["alerts"]["oldest_wait_s"] == {"warn": 45, "crit": 90}  # not changed in place
