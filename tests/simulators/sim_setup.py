"""Constants shared by the simulator tests and their fixtures (tests/simulators/conftest.py).

A plain module, not conftest.py: `from conftest import ...` would pick whichever conftest.py of tests/
was imported first.
"""

from __future__ import annotations

import datetime as dt

SEED = 20230306
START, END = dt.date(2022, 12, 24), dt.date(2023, 1, 8)
TOKEN = "test-token"
