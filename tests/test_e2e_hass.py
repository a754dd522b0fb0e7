"""End to end: a real Home Assistant process set up over HTTP against the simulator.

The test starts ``hass`` from this virtualenv on a free loopback port with a
temporary config directory, completes onboarding through the HTTP API, adds a
Butlr, an Occuspace and a Concordia entry through the config-flow API (as the
UI does, the base URL in the form's advanced section) and reads ``/api/states``. The
simulator runs in this process on loopback; Home Assistant is another process,
so it runs on the real clock and is not subject to the test harness's socket
guard. The process is always stopped, the test failing or not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
import subprocess
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from scripts import hass_bootstrap as hb

from .conftest import SimulatorServer
from .simulator import butlr, concordia, occuspace

# A cold start (bytecode compiled on first use) takes some seconds; allow many.
START_WITHIN = 180.0

EXPECTED = {
    # Butlr demo: 2 + 1 under the meeting room's presence sensors; 7 in, 2 out.
    "sensor.meeting_room_occupancy": "3",
    "sensor.cafeteria_occupancy": "5",
    "sensor.cafeteria_entries_today": "7",
    "sensor.cafeteria_exits_today": "2",
    # Occuspace seed: the building's 100 people of 500, on the wire 0.20.
    "sensor.office_building_occupancy": "100",
    "sensor.office_1st_floor_occupancy": "70",
    "sensor.office_2nd_floor_occupancy": "30",
    # Concordia seed: strings, the negative count clamped at 0.
    "sensor.webster_library_occupancy": "367",
    "sensor.vanier_library_occupancy": "104",
    "sensor.grey_nuns_reading_room_occupancy": "0",
}


@dataclass
class RunningHass:
    """A Home Assistant process and where to reach it."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def alive(self) -> bool:
        """Tell whether the process still runs."""
        return self.process.poll() is None


@pytest.fixture
def real_hass(simulator: SimulatorServer, tmp_path: Path) -> Iterator[RunningHass]:
    """Home Assistant in its own process, stopped (and killed if need be) after."""
    config_dir = tmp_path / "config"
    port = hb.free_port()
    hb.prepare_config_dir(config_dir, hb.HassConfig(port=port, frontend_stub=True))
    log = tmp_path / "hass.log"
    process = hb.start_hass(config_dir, log)
    try:
        yield RunningHass(process, f"http://127.0.0.1:{port}", log)
    finally:
        hb.stop_process(process, timeout=30)
    assert process.returncode is not None


def butlr_today(now: datetime) -> butlr.ButlrScenario:
    """The Butlr demo, its events of today kept after the site's local midnight.

    The demo records today's traffic 30 minutes before ``now``, which is
    yesterday in New York during the first half hour of the day.
    """
    scenario = butlr.demo_scenario(now)
    midnight = (
        now.astimezone(ZoneInfo("America/New_York"))
        .replace(hour=0, minute=0, second=0, microsecond=0)
        .astimezone(UTC)
    )
    for room in scenario.rooms():
        room.traffic = [
            (max(at, midnight) if at > now - timedelta(days=1) else at, entries, exits)
            for at, entries, exits in room.traffic
        ]
    return scenario


async def test_real_home_assistant(
    simulator: SimulatorServer, real_hass: RunningHass
) -> None:
    """Onboard, add an entry per provider over HTTP, and read the states."""
    now = datetime.now(UTC)
    simulator.butlr = butlr_today(now)
    simulator.occuspace = occuspace.seed_scenario()
    simulator.concordia = concordia.seed_scenario(now)
    owner = hb.Owner(name="Tester", username="tester", password="e2e-password")

    async with aiohttp.ClientSession() as session:
        client = hb.HassClient(session, real_hass.url)
        try:
            await hb.wait_until_up(client, within=START_WITHIN, alive=real_hass.alive)
            assert await hb.onboard(client, owner)
            await hb.wait_until_running(client)
            assert await hb.onboarding_status(client) == {
                "user": True,
                "core_config": True,
                "analytics": True,
                "integration": True,
            }
            specs = hb.simulator_entries(simulator.base_url)
            outcomes = [await hb.add_entry(client, spec) for spec in specs]
            states = await hb.wait_for_states(client, list(EXPECTED), within=60)
            # The same account again is refused, and the owner can sign in.
            again = await hb.add_entry(client, specs[0])
            await hb.log_in(client, owner)
            entries = await client.request(
                "GET", f"/api/config/config_entries/entry?domain={hb.DOMAIN}"
            )
        except hb.BootstrapError as err:
            pytest.fail(
                f"{err}\n--- Home Assistant's log ---\n{hb.log_tail(real_hass.log)}"
            )

    assert [(outcome.kind, outcome.detail) for outcome in outcomes] == [
        ("created", f"Butlr ({butlr.ACCOUNT[0]})"),
        ("created", "Occuspace (Sales)"),
        ("created", f"Concordia University ({concordia.SEED_USER_ID})"),
    ]
    assert (again.kind, again.detail) == ("aborted", "already_configured")
    assert sorted((entry["title"], entry["state"]) for entry in entries) == [
        (f"Butlr ({butlr.ACCOUNT[0]})", "loaded"),
        (f"Concordia University ({concordia.SEED_USER_ID})", "loaded"),
        ("Occuspace (Sales)", "loaded"),
    ]
    assert {entity_id: states[entity_id]["state"] for entity_id in EXPECTED} == EXPECTED
    percentage = states["sensor.office_building_occupancy_percentage"]
    assert float(percentage["state"]) == pytest.approx(20)
    assert percentage["attributes"]["unit_of_measurement"] == "%"
    assert states["binary_sensor.meeting_room_occupied"]["state"] == "on"
    assert states["binary_sensor.grey_nuns_reading_room_occupied"]["state"] == "off"
    assert states["sensor.meeting_room_occupancy"]["attributes"]["friendly_name"] == (
        "Meeting room Occupancy"
    )
    # Home Assistant names the integration in a warning for each deprecated
    # call it makes (and asks users to report it): there must be none.
    log = real_hass.log.read_text(encoding="utf-8", errors="replace")
    assert [
        line
        for line in log.splitlines()
        if "deprecat" in line.lower() and hb.DOMAIN in line
    ] == []
    # Every request went to the simulator, over loopback.
    assert simulator.requests_to("/api/v2/login")
    assert simulator.requests_to("/v1/locations")
    assert simulator.requests_to("/API/v1/library/occupancy/")
