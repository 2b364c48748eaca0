"""Comparing two reports with readable failures (shared by unit and integration tests)."""

from __future__ import annotations

from typing import Any


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """The leaf paths where two reports differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    diff = differences(a, b)
    assert not diff, "\n".join(diff[:20])
