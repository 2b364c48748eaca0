from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .stack import Stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("stack"))
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def unique(request: pytest.FixtureRequest, stack: Stack) -> str:
    """A name for this test's topics, consumer group and Redis prefix."""
    stack.n += 1
    return f"t{stack.n}-{request.node.name.replace('_', '-')[:30]}"


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    return tmp_path
