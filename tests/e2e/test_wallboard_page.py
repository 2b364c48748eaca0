"""The wallboard page in a real headless Chromium, on the whole stack: the embedded broker and
Redis, a worker, the wallboard server and a seeded simulation in real time.

Screenshots go to ``tests/e2e/output/``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis

from launcher import embedded
from producers.kafka_sink import ensure_topics, produce

from ..integration.stack import ROOT, Stack, WorkerProc, wait_until

pytestmark = pytest.mark.e2e

OUTPUT = Path(__file__).parent / "output"
SUP = "e2e-supervisor-token-0001"
VIEW = "e2e-viewer-token-00000001"
CHROMIUM = "/usr/bin/chromium"
T = TypeVar("T")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def in_thread(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end on a loop of its own: Playwright's sync API runs one here."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class Board:
    """Everything the page needs, started once for this module."""

    def __init__(self, workdir: Path) -> None:
        self.stack = Stack(workdir)
        self.name = "e2e"
        self.procs: list[subprocess.Popen[bytes]] = []
        env = self.stack.env(self.name)
        self.worker = WorkerProc({**env, "CALLPULSE_CONFIG_POLL_S": "0.5"}, workdir / "worker.log")
        self.port = embedded.free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.redis = redis.Redis(host=self.stack.host, port=self.stack.redis_port)
        self.env = env
        self.workdir = workdir

    def start(self) -> Board:
        in_thread(ensure_topics(self.stack.servers, (f"{self.name}.calls", f"{self.name}.agents"), 4))
        self.worker.start()
        board_env = {**self.env, "CALLPULSE_WALLBOARD_PORT": str(self.port),
                     "CALLPULSE_WALLBOARD_TOKENS": f"e2e-supervisor:supervisor:{SUP},"
                                                   f"e2e-viewer:viewer:{VIEW}"}
        self.wallboard = self._spawn(["wallboard"], board_env, "wallboard.log")
        embedded.wait_port("127.0.0.1", self.port, 30, self.wallboard, "the wallboard")
        # A steady load: by the time of day, an evening's or a night's calls leave queues
        # without a tile for minutes.
        self.simulator = self._spawn(["simulate", "--speed", "1", "--duration", "900", "--seed", "7",
                                      "--queues", "3", "--agents", "12", "--load", "0.6"],
                                     self.env, "simulator.log")
        return self

    def _spawn(self, args: list[str], env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", *args], env=env, cwd=ROOT,
                                stdout=(self.workdir / log).open("ab"), stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stored(self, key: str) -> dict[str, Any] | None:
        raw = self.redis.hget(f"{self.name}:queue", key)
        return None if raw is None else json.loads(raw)  # type: ignore[arg-type]

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            embedded.stop(proc, timeout_s=5)
        if self.worker.proc is not None and self.worker.proc.poll() is None:
            self.worker.terminate()
        self.stack.close()


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Board]:
    b = Board(tmp_path_factory.mktemp("e2e"))
    try:
        yield b.start()
    finally:
        b.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-deps.sh (make test does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, errors


def open_board(page: Any, board: Board, token: str = SUP, query: str = "") -> None:
    response = page.goto(f"{board.url}?token={token}{query}")
    assert response.status == 200
    page.wait_for_selector("article.tile", timeout=60_000)


def shot(page: Any, name: str) -> Path:
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / name
    page.screenshot(path=str(path), full_page=True)
    return path


# What the page shows of each tile, read from the DOM.
READ_TILES = """() => [...document.querySelectorAll('article.tile')].map(t => ({
  key: t.dataset.key, seq: Number(t.dataset.seq),
  waiting: t.querySelector('[data-rule=waiting] .v').textContent,
  sl15: t.querySelector('[data-rule=service_level_ratio] .v').textContent,
  slToday: t.querySelector('[data-rule=sl_today] dd').textContent,
  available: t.querySelector('[data-rule=agents_available] dd').textContent,
  onCall: t.querySelector('[data-rule=agents_on_call] dd').textContent,
  formula: t.querySelector('[data-rule=formula]').textContent,
  badge: t.querySelector('.badge').textContent,
}))"""


def percent(text: str) -> float | None:
    text = text.replace("\u25b2", "").replace("\u2716", "").strip()
    return None if text == "\u2014" else float(text.rstrip("%"))


def test_tiles_show_the_figures_of_the_redis_snapshot(board: Board, page: Any) -> None:
    open_board(page, board)
    wait_until(lambda: len(page.evaluate(READ_TILES)) == 3, 60, "three queue tiles")
    checked = set()
    deadline = time.monotonic() + 30
    while len(checked) < 3 and time.monotonic() < deadline:
        # The worker republishes every second: compare a tile with the stored item it was
        # drawn from (same sequence number).
        for tile in page.evaluate(READ_TILES):
            item = board.stored(tile["key"])
            if item is None or item["seq"] != tile["seq"]:
                continue
            d = item["data"]
            assert tile["waiting"].endswith(str(d["live"]["waiting"])), (tile, d["live"])
            for shown, ratio in ((tile["sl15"], d["frames"]["15m"]["service_level_ratio"]),
                                 (tile["slToday"], d["frames"]["today"]["service_level_ratio"])):
                value = percent(shown)
                assert (value is None) == (ratio is None), (shown, ratio)
                assert value is None or ratio is None or abs(value - ratio * 100) <= 0.5
            assert tile["available"] == str(d["live"]["agents_available"])
            assert tile["onCall"] == str(d["live"]["agents_on_call"])
            assert d["sl_formula"] in tile["formula"]
            assert tile["badge"].split()[-1].lower() == max(
                (a["severity"] for a in d["alerts"]), key=("warn", "crit").index, default="ok")
            checked.add(tile["key"])
        time.sleep(0.2)
    assert len(checked) == 3, checked
    assert page.text_content("#status") == "\u25cf LIVE"
    # One row per agent the workers published (agents log in over the simulated shift).
    wait_until(lambda: page.locator("#agent-table tbody tr").count()
               == board.redis.hlen(f"{board.name}:agent") > 0, 10, "a row per agent")
    shot(page, "wallboard-live.png")


def test_a_new_event_changes_the_page_within_a_second(board: Board, page: Any) -> None:
    open_board(page, board)
    now_ms = int(time.time() * 1000)
    event = {"v": 1, "id": "probe-ringing", "type": "ringing", "ts": now_ms, "source": "e2e",
             "call_id": "probe-1", "queue": "probe", "caller": "+44 20 7946 0000"}
    started = time.monotonic()
    in_thread(produce([event], servers=board.stack.servers, calls_topic=f"{board.name}.calls",
                        agents_topic=f"{board.name}.agents", speed=0, start_ms=now_ms))
    page.wait_for_selector('article[data-key="default/probe"] [data-rule=waiting] .v >> text=1',
                           timeout=5_000)
    took = time.monotonic() - started
    assert took < 1.0, f"the page showed the new call {took:.2f} s after it was produced"
    assert "7946" not in page.content()


def test_a_supervisor_acknowledges_an_alert_from_the_ticker(board: Board, page: Any) -> None:
    # The probe call waits in a queue nobody serves: "no agent available" fires after 15 s.
    open_board(page, board, VIEW)
    alert = '#ticker .alert[data-queue="default/probe"][data-alert="no_agent_available"]'
    page.wait_for_selector(alert, timeout=40_000)
    assert page.locator(f"{alert} .ack").count() == 0  # a viewer has no button
    assert "WARN" in page.text_content(f"{alert} .sev")

    open_board(page, board, SUP)
    page.click(f"{alert} .ack")
    page.wait_for_selector(f"{alert} .acked >> text=ack by e2e-supervisor", timeout=5_000)
    shot(page, "wallboard-alert-acknowledged.png")


def test_url_parameters_choose_queues_teams_tv_mode_and_rotation(board: Board, page: Any) -> None:
    open_board(page, board, VIEW, "&queues=sales,billing&tv=1")
    keys = page.eval_on_selector_all("article.tile", "ts => ts.map(t => t.dataset.key)")
    assert sorted(keys) == ["default/billing", "default/sales"]
    assert "tv" in page.get_attribute("body", "class")
    assert not page.is_visible("#sound") and not page.is_visible("#agent-filter")

    def agents() -> list[dict[str, Any]]:
        return [json.loads(raw)["data"] for raw in board.redis.hvals(f"{board.name}:agent")]

    team = next(a["team"] for a in agents() if a.get("team"))
    open_board(page, board, VIEW, f"&team={team}")

    def team_shown() -> bool:  # agents log in and out meanwhile: compare with Redis each time
        mine = [a for a in agents() if a.get("team") == team]
        keys = page.eval_on_selector_all("article.tile", "ts => ts.map(t => t.dataset.key)")
        return page.locator("#agent-table tbody tr").count() == len(mine) > 0 and \
            {k.split("/", 1)[1] for k in keys} == {q for a in mine for q in a["queues"]}

    wait_until(team_shown, 10, "the team's agents and the queues they serve")

    open_board(page, board, VIEW, "&rotate=1&per_page=2")
    page.wait_for_selector("body.view-agents", timeout=10_000)
    page.wait_for_selector("body.view-queues", timeout=10_000)

    page.set_viewport_size({"width": 800, "height": 1280})  # a tablet, upright
    open_board(page, board, VIEW)
    lefts = page.eval_on_selector_all("article.tile", "ts => ts.map(t => t.getBoundingClientRect().left)")
    assert len(set(lefts)) == 1  # one column
    shot(page, "wallboard-tablet.png")


def _settled(page: Any, expression: str, timeout_ms: int = 10_000) -> Any:
    """The value of ``expression`` in the page once it is not null, polled with evaluate:
    ``page.wait_for_function`` runs its predicate through eval() in the page, which the
    wallboard's Content-Security-Policy (no 'unsafe-eval') refuses in Playwright 1.65."""
    for _ in range(timeout_ms // 50):
        value = page.evaluate(expression)
        if value is not None:
            return value
        page.wait_for_timeout(50)
    raise AssertionError(f"{expression} still null after {timeout_ms} ms")


def test_a_wrong_token_gets_401_and_a_foreign_origin_is_refused(board: Board, page: Any) -> None:
    assert page.goto(f"{board.url}?token=not-a-valid-token-000").status == 401
    assert page.goto(board.url).status == 401
    ws = f"ws://127.0.0.1:{board.port}/ws?token={VIEW}"
    probe = f"""<script>
      const ws = new WebSocket({json.dumps(ws)});
      ws.onopen = () => {{ document.title = "open"; }};
      ws.onerror = () => {{ document.title = "refused"; }};
    </script>"""
    page.route("http://foreign.example/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body=probe))
    page.goto("http://foreign.example/")
    assert _settled(page, "document.title || null") == "refused"
    # The same script from the wallboard's own origin connects.
    page.goto(f"{board.url}?token={VIEW}")
    page.evaluate(f"""() => {{ const ws = new WebSocket({json.dumps(ws)});
      ws.onopen = () => {{ window.probe = "open"; }};
      ws.onerror = () => {{ window.probe = "refused"; }}; }}""")
    assert _settled(page, "window.probe ?? null") == "open"


def test_a_viewer_cannot_change_a_threshold_and_a_supervisor_can(board: Board, page: Any) -> None:
    open_board(page, board, VIEW)
    key = page.get_attribute("article.tile", "data-key")
    assert page.locator(".edit").count() == 0  # no controls for a viewer
    reply = page.evaluate("""(key) => wallboard.request({type: "set_thresholds", queue: key,
                              changes: {sl_threshold_s: 33}})""", key)
    assert reply["ok"] is False and reply["code"] == "forbidden"
    assert board.redis.hget(f"{board.name}:config", key) is None

    open_board(page, board, SUP)
    page.click(f'article[data-key="{key}"] .edit')
    page.fill("#editor-form input[name=sl_threshold_s]", "33")
    page.fill('#editor-form input[name="oldest_wait_s.warn"]', "75")
    page.click("#editor-save")
    page.wait_for_selector("#editor-result >> text=Saved", timeout=5_000)
    # Stored in Redis, applied by the worker, shown on the page.
    page.wait_for_selector(f'article[data-key="{key}"] [data-rule=formula] >> text=T 33 s',
                           timeout=15_000)
    stored = json.loads(board.redis.hget(f"{board.name}:config", key))  # type: ignore[arg-type]
    assert stored["sl_threshold_s"] == 33 and stored["alerts"]["oldest_wait_s"]["warn"] == 75
    entries = board.redis.xrange(f"{board.name}:audit:log")
    assert json.loads(entries[-1][1][b"entry"])["by"] == "e2e-supervisor"  # type: ignore[index]
    snapshot = board.stored(key)
    assert snapshot is not None and snapshot["data"]["levels"]["oldest_wait_s"]["warn"] == 75


def test_the_page_turns_stale_when_the_simulator_stops(board: Board, page: Any) -> None:
    open_board(page, board, VIEW, "&tv=1")
    assert page.text_content("#status") == "\u25cf LIVE"
    board.simulator.terminate()
    board.simulator.wait(10)
    # A source is stale after 30 s without events (spec/METRICS.md, "Staleness").
    page.wait_for_selector("#status >> text=STALE", timeout=60_000)
    assert "stale" in page.get_attribute("body", "class")
    assert "no events from" in page.text_content("#banner")
    assert page.is_visible("#banner")
    path = shot(page, "wallboard-stale.png")
    assert path.stat().st_size > 10_000
