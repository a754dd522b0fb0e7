"""Differences between the Home Assistant lines we support, in one place.

Supported: Home Assistant 2025.4.0 and newer. Delete a branch once the minimum
version passes it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

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

__all__ = ["vol"]
