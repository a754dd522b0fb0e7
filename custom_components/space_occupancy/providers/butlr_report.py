"""Butlr's reporting API (``/api/v3/reporting``): the one reader of its answers."""

from __future__ import annotations

from typing import Any

from .base import expect_dict

REPORTING_PATH = "/api/v3/reporting"


def report_data(payload: Any) -> dict[str, Any]:
    """Return the ``data`` object of a report; no data at all means no rows."""
    data = expect_dict(payload, "reporting answer").get("data")
    if data is None or data == []:
        return {}
    return expect_dict(data, "reporting data")
