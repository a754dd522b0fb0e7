"""Differences between the Home Assistant lines we support, in one place.

Supported: Home Assistant 2025.4.0 and newer. Delete a branch once the minimum
version passes it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, cast

from homeassistant.components.recorder.const import DOMAIN as RECORDER_DOMAIN
from homeassistant.components.recorder.models import (
    StatisticMeanType,
    StatisticMetaData,
)

# Schemas. At run time ``import voluptuous`` serves every line: Home Assistant
# 2026.9 and newer replace voluptuous with probatio and alias the import to it.
# Their type hints say ``probatio.Schema``, so the type checker must see
# probatio there. Home Assistant 2026.9+ needs Python >= 3.14 and our oldest
# line (2025.4) runs on 3.13: the Python version tells the checker which line
# it checks. Delete the probatio branch's condition when the minimum is 2026.9.
if TYPE_CHECKING:
    if sys.version_info >= (3, 14):
        import probatio as vol
    else:
        import voluptuous as vol
else:
    import voluptuous as vol

# A repair flow's result: newer lines type it (``RepairsFlowResult``,
# whose context holds the issue id); 2025.4 has the plain ``FlowResult``. As for
# the schemas, the Python version tells the checker which line it checks (our
# newest runs on 3.14); at run time the name is only an annotation. Delete the
# branch when the minimum has ``RepairsFlowResult``.
if TYPE_CHECKING:
    if sys.version_info >= (3, 14):
        from homeassistant.components.repairs import RepairsFlowResult
    else:
        from homeassistant.data_entry_flow import FlowResult as RepairsFlowResult
else:
    from homeassistant.data_entry_flow import FlowResult as RepairsFlowResult

# Statistics metadata keys that only newer lines know, with our values: Home
# Assistant 2025.10 added ``unit_class`` (2026.11 requires it) and older lines
# reject it. Delete the entry when the minimum is 2025.10.
_NEWER_METADATA = {"unit_class": None}


def statistic_metadata(statistic_id: str, unit: str | None) -> StatisticMetaData:
    """Metadata of an occupancy sensor's statistics, as the recorder makes it.

    It must match what the recorder's own compile writes for the sensor (a
    plain measurement: arithmetic mean, the state's unit, no unit class), or
    the two would keep rewriting each other's metadata.
    """
    metadata: dict[str, Any] = {
        "mean_type": StatisticMeanType.ARITHMETIC,
        "has_sum": False,
        "name": None,
        "source": RECORDER_DOMAIN,
        "statistic_id": statistic_id,
        "unit_of_measurement": unit,
    }
    metadata |= {
        key: value
        for key, value in _NEWER_METADATA.items()
        if key in StatisticMetaData.__annotations__
    }
    return cast("StatisticMetaData", metadata)


__all__ = ["RepairsFlowResult", "statistic_metadata", "vol"]
