"""Makes tests/report/synthetic.py importable as `synthetic` (tests/ has no packages)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
