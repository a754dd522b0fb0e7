"""What the simulated providers share: the clock and the recorded payloads."""

from __future__ import annotations

from datetime import UTC, datetime
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent.parent / "fixtures"


def utcnow() -> datetime:
    """Return the real time; scenarios take a clock so tests can move it."""
    return datetime.now(UTC)


def load_fixture(name: str) -> Any:
    """Load a recorded payload from tests/fixtures."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))
