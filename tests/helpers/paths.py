"""Where the repository, the running virtualenv and the shared fixtures are."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FIXTURES = REPO.parent / "shared" / "fixtures"
LEAP = FIXTURES / "leap"
