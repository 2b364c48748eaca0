"""Compiles the pure core with mypyc, as black and mypy ship themselves; the rest of the
packaging is in pyproject.toml.

The compiled modules are these same type-checked sources turned into C extensions: about 6
times the events per second of the interpreted core (``benchmarks/bench_engine.py``). Set
``CALLPULSE_PURE_PYTHON=1`` when installing to keep everything interpreted (to debug the core,
or where no C compiler is at hand).
"""

import os

from setuptools import setup

# The modules every event or snapshot runs through. Interpreted on purpose: events.py and
# presence.py (msgspec Structs: mypyc cannot compile them, and in a compiled module msgspec
# misreads their annotations), and the modules that check what users type (config.py,
# erlang.py): compiled code raises a bare TypeError on a wrongly typed argument before the
# function can give its own clear error.
COMPILED = [
    f"callpulse/{name}.py"
    for name in ("agents", "alerts", "calls", "codec", "engine", "event_types", "live", "queue",
                 "ring", "tally", "timeframes")
]

ext_modules = []
if os.environ.get("CALLPULSE_PURE_PYTHON") != "1":
    from mypyc.build import mypycify

    ext_modules = mypycify(COMPILED, opt_level="3")

setup(ext_modules=ext_modules)
