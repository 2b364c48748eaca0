"""A deterministic synthetic event stream for benchmarks (the real simulator lives in producers/).

Calls arrive round-robin over the queues every `gap_ms`; each is answered (80 %), abandoned or
sent to voicemail, and answered calls end and wrap up; agents log in first.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from callpulse import events as ev

BASE_MS = 1_730_000_000_000


def stream(n_events: int, *, queues: int, agents: int, gap_ms: int = 20, seed: int = 1
           ) -> Iterator[ev.AnyEvent]:
    """About ``n_events`` events in time order (a call makes 2 to 5 of them)."""
    rng = random.Random(seed)
    names = [f"q{i:04d}" for i in range(queues)]
    produced = 0
    for a in range(agents):
        yield ev.AgentLogin(v=1, id=f"login-{a}", ts=BASE_MS, source="bench", agent=f"a{a:05d}",
                            queues=[names[a % queues]])
        produced += 1
    pending: list[tuple[int, int, ev.AnyEvent]] = []
    n, t = 0, BASE_MS
    import heapq

    while produced < n_events:
        t += gap_ms
        q = names[n % queues]
        cid = f"c{n}"
        agent = f"a{(n * 7) % agents:05d}"
        common = {"v": 1, "source": "bench", "call_id": cid, "queue": q}
        wait = int(rng.expovariate(1 / 15_000))
        heapq.heappush(pending, (t, n * 8, ev.Ringing(id=f"{cid}-r", ts=t, **common)))
        roll = rng.random()
        if roll < 0.8:
            end = t + wait + int(rng.lognormvariate(11.5, 0.5))
            heapq.heappush(pending, (t + wait, n * 8 + 1, ev.Answered(
                id=f"{cid}-a", ts=t + wait, agent=agent, **common)))
            heapq.heappush(pending, (end, n * 8 + 2, ev.Ended(
                id=f"{cid}-e", ts=end, agent=agent, disposition="resolved", **common)))
            heapq.heappush(pending, (end + 30_000, n * 8 + 3, ev.WrapupEnded(
                id=f"{cid}-w", ts=end + 30_000, agent=agent, acw_s=30, **common)))
        elif roll < 0.95:
            heapq.heappush(pending, (t + wait, n * 8 + 1, ev.Abandoned(
                id=f"{cid}-x", ts=t + wait, **common)))
        else:
            heapq.heappush(pending, (t + wait, n * 8 + 1, ev.VoicemailLeft(
                id=f"{cid}-v", ts=t + wait, **common)))
        n += 1
        while pending and pending[0][0] <= t:
            yield heapq.heappop(pending)[2]
            produced += 1
