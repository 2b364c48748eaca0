"""Checks before any test runs."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "callpulse"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to test a compiled core (setup.py) older than its sources: Python imports the
    extension, not the edited file, so the tests would pass or fail on code that is gone."""
    stale = []
    for source in sorted(CORE.glob("*.py")):
        module = importlib.import_module(f"callpulse.{source.stem}")
        loaded = Path(module.__file__ or source)
        if loaded.suffix == ".so" and loaded.stat().st_mtime < source.stat().st_mtime:
            stale.append(source.name)
    if stale:
        pytest.exit(f"the compiled core is older than {', '.join(stale)}: rebuild it with "
                    "`make test` (or `pip install -e .`)", returncode=2)
