"""Reading replay inputs: canonical JSON Lines or Asterisk ``queue_log`` text, by content."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

from . import events as ev
from .errors import InputError
from .queue_log import QueueLogParser

FORMATS: Final = ("jsonl", "queue-log")


def detect_format(path: Path) -> str:
    """``jsonl`` when the first non-blank line starts with ``{``, ``queue-log`` when it looks like
    ``epoch|callid|queue|agent|EVENT``; :class:`InputError` otherwise."""
    with _open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line:
                continue
            if line.startswith(b"{"):
                return "jsonl"
            if line.count(b"|") >= 4 and line.split(b"|", 1)[0].replace(b".", b"").isdigit():
                return "queue-log"
            break
    raise InputError(f"{path}: cannot tell the format (use --format jsonl or queue-log)")


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def read_events(
    path: Path, fmt: str, rejected: dict[str, int],
) -> Iterator[ev.AnyEvent]:
    """The events of a file; bad lines are counted in ``rejected`` by reason, never fatal."""
    with _open(path) as f:
        if fmt == "jsonl":
            yield from ev.decode_lines(f, rejected)
        else:
            parser = QueueLogParser()
            for n, raw in enumerate(f, 1):
                yield from parser.feed(raw.decode("utf-8", "replace"), n)
            for reason, count in parser.ignored.items():
                rejected[f"queue_log_{reason}"] = rejected.get(f"queue_log_{reason}", 0) + count
