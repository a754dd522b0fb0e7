"""A control of the running demo simulator: what a test would set on its ``Simulator``.

``python -m tests.simulator --control`` serves it under ``/_control/`` (on loopback,
as the whole simulator), for ``scripts/screenshot --selection``, which needs a
provider to refuse at a moment of its choosing (a repair issue to take a picture
of). Without ``--control`` (scripts/develop) there is no such path.

- ``POST /_control/concordia/spend-quota``: the Concordia application's calls of
  today reach its daily quota: every call is refused (HTTP 401, as the real API
  refuses a spent quota) until midnight in Montreal. Answers the quota's state.
"""

from __future__ import annotations

from aiohttp import web

from .app import SIMULATOR_KEY

CONTROL_PREFIX = "/_control"
SPEND_CONCORDIA_QUOTA = f"{CONTROL_PREFIX}/concordia/spend-quota"


async def _spend_concordia_quota(request: web.Request) -> web.Response:
    scenario = request.app[SIMULATOR_KEY].concordia
    scenario.quota_day = scenario.montreal_today()
    scenario.calls_today = scenario.quota
    return web.json_response(
        {
            "quota": scenario.quota,
            "calls_today": scenario.calls_today,
            "quota_day": scenario.quota_day.isoformat(),
        }
    )


def add_control_routes(app: web.Application) -> None:
    """Serve the control paths on a simulator's application (before it starts)."""
    app.router.add_post(SPEND_CONCORDIA_QUOTA, _spend_concordia_quota)
