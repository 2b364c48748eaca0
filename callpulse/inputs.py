"""Reading replay inputs: canonical JSON Lines or Asterisk ``queue_log`` text, by content."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Final

from . import events as ev
from .errors import InputError
from .queue_log import QueueLogParser

FORMATS: Final = ("jsonl", "queue-log")
# What Windows tools (PowerShell, Excel, Notepad) often write before UTF-8 text: not part of the
# first line's content.
_BOM: Final = b"\xef\xbb\xbf"


def detect_format(path: Path) -> str:
    """``jsonl`` when the first non-blank line starts with ``{``, ``queue-log`` when it looks like
    ``epoch|callid|queue|agent|EVENT``; :class:`InputError` otherwise, and for a pipe (looking
    would consume what the replay must read)."""
    if path.exists() and not path.is_file():
        raise InputError(f"{path} is not a regular file: give --format jsonl or queue-log")
    with _open(path) as f:
        for raw in _without_bom(f):
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
    path: Path, fmt: str, rejected: dict[str, int], size_bytes: int | None = None,
) -> Iterator[ev.AnyEvent]:
    """The events of a file (of its first ``size_bytes`` only, when given); bad lines are
    counted in ``rejected`` by reason, never fatal."""
    with _open(path) as f:
        lines = _without_bom(f if size_bytes is None else _first_bytes(f, size_bytes))
        if fmt == "jsonl":
            yield from ev.decode_lines(lines, rejected)
        else:
            parser = QueueLogParser()
            for n, raw in enumerate(lines, 1):
                yield from parser.feed(raw.decode("utf-8", "replace"), n)
            for reason, count in parser.ignored.items():
                rejected[f"queue_log_{reason}"] = rejected.get(f"queue_log_{reason}", 0) + count


def _without_bom(lines: Iterable[bytes]) -> Iterator[bytes]:
    """The lines, the first without a leading UTF-8 byte order mark."""
    it = iter(lines)
    for first in it:
        yield first.removeprefix(_BOM)
        break
    yield from it


def _first_bytes(lines: Iterable[bytes], size_bytes: int) -> Iterator[bytes]:
    """The lines within the first ``size_bytes`` (the last one cut there, as it was then)."""
    left = size_bytes
    for line in lines:
        if len(line) >= left:
            if left:
                yield line[:left]
            return
        left -= len(line)
        yield line
