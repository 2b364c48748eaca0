"""The installed ``callpulse`` command: the pure commands plus the services."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from callpulse import cli as core_cli
from monitor_ui import cli as monitor_cli
from producers import cli as producers_cli
from streams import cli as streams_cli

from . import demo


def main(argv: Sequence[str] | None = None) -> int:
    p, sub = core_cli.parser()
    streams_cli.register(sub)
    producers_cli.register(sub)
    monitor_cli.register(sub)
    demo.register(sub)
    return core_cli.run(p, argv)


if __name__ == "__main__":
    sys.exit(main())
