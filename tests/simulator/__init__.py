"""A provider simulator: one aiohttp.web app imitating Butlr, Occuspace and Concordia.

Written from the seeds and reference/providers.md. Tests run it on loopback; so
does scripts/develop. Faults can be injected per path prefix.
"""

from __future__ import annotations

from .app import Fault, Simulator, create_app

__all__ = ["Fault", "Simulator", "create_app"]
