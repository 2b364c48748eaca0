"""Decoding plus validation of one canonical event (``callpulse.events``): microseconds each.

Goal (issue 2): a few microseconds per event. Measures ``decode_event`` on the synthetic
stream's events as JSON (each type in its share of the stream), with ``ts`` as epoch ms and as
RFC 3339, and ``decode_lines``, which replay runs on a file's lines.
Usage: python benchmarks/bench_decode.py [--events N]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

from synthetic import stream

from callpulse.events import Rejected, decode_event, decode_lines, encode_event


def _rfc3339(line: bytes) -> bytes:
    """The same event with its ``ts`` as an RFC 3339 string with an offset."""
    obj = json.loads(line)
    obj["ts"] = datetime.fromtimestamp(obj["ts"] / 1000, UTC).isoformat(timespec="milliseconds")
    return json.dumps(obj, separators=(",", ":")).encode()


def _best_us(run: Callable[[], int], repeat: int) -> float:
    """The best of ``repeat`` runs, in microseconds per event."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = run()
        best = min(best, (time.perf_counter() - t0) / n * 1e6)
    return best


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    epoch = [encode_event(e) for e in stream(args.events, queues=50, agents=500)]
    rfc = [_rfc3339(line) for line in epoch]

    def each(lines: list[bytes]) -> Callable[[], int]:
        def run() -> int:
            for line in lines:
                if isinstance(decode_event(line), Rejected):
                    raise SystemExit(f"rejected: {line!r}")
            return len(lines)
        return run

    def batch() -> int:
        rejected: dict[str, int] = {}
        n = sum(1 for _ in decode_lines(epoch, rejected))
        if rejected:
            raise SystemExit(f"rejected: {rejected}")
        return n

    print(f"decode and validate, {len(epoch):,} events (mean {sum(map(len, epoch)) / len(epoch):.0f} "
          f"bytes), best of {args.repeat}:")
    print(f"  decode_event, ts as epoch ms: {_best_us(each(epoch), args.repeat):.2f} us/event")
    print(f"  decode_event, ts as RFC 3339: {_best_us(each(rfc), args.repeat):.2f} us/event")
    print(f"  decode_lines (replay's path): {_best_us(batch, args.repeat):.2f} us/event")


if __name__ == "__main__":
    main()
