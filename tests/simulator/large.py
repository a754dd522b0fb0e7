"""Large simulated accounts, built deterministically: the shapes scripts/bench.py uses.

- ``large_butlr``: one site of buildings, floors and rooms (2,000 rooms by
  default, 5 x 10 x 40): half the rooms count presence, a quarter traffic, a
  quarter both; one room in ten has no capacity, one floor in three none.
- ``large_occuspace``: a campus of buildings and floors whose zones (leaf
  locations) make 2,000 locations in all, with O(1) lookups (the seed
  scenario's are linear scans).

The same arguments always build the same account: no randomness but a seeded
``random.Random``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import random

from .butlr import (
    ACCOUNT,
    ButlrBuilding,
    ButlrFloor,
    ButlrRoom,
    ButlrScenario,
    ButlrSensor,
    ButlrSite,
)
from .occuspace import SEED_TOKEN, OccuspaceLocation, OccuspaceScenario

BUTLR_SITE = "site_large"


def large_butlr_room(number: int, now: datetime, rng: random.Random) -> ButlrRoom:
    """Room ``number``: presence, traffic or both, by its number (see the module)."""
    kind = number % 4
    if kind in (0, 1):
        modes = ["presence", "presence"]
    elif kind == 2:
        modes = ["traffic"]
    else:
        modes = ["presence", "traffic"]
    sensors = [
        ButlrSensor(
            f"{number:05d}-{index}",
            mode,
            people=rng.choice((0, 0, 1, 2)) if mode == "presence" else 0,
        )
        for index, mode in enumerate(modes)
    ]
    traffic = (
        [(now - timedelta(minutes=30), rng.randint(1, 9), rng.randint(0, 1))]
        if "traffic" in modes
        else []
    )
    return ButlrRoom(
        id=f"room_{number:05d}",
        name=f"Room {number}",
        capacity=0 if number % 10 == 9 else rng.randint(4, 40),
        sensors=sensors,
        traffic=traffic,
    )


def large_butlr(
    now: datetime,
    *,
    buildings: int = 5,
    floors: int = 10,
    rooms: int = 40,
    seed: int = 2000,
) -> ButlrScenario:
    """A Butlr organisation of ``buildings x floors x rooms`` rooms (2,000 by default)."""
    rng = random.Random(seed)  # noqa: S311 - a test account, not a secret
    number = 0
    site_buildings = []
    for b in range(buildings):
        building_floors = []
        for f in range(floors):
            floor_rooms = []
            for _ in range(rooms):
                floor_rooms.append(large_butlr_room(number, now, rng))
                number += 1
            building_floors.append(
                ButlrFloor(
                    id=f"space_{b:02d}_{f:02d}",
                    name=f"Building {b} floor {f}",
                    capacity=0 if f % 3 == 2 else 400,
                    rooms=floor_rooms,
                )
            )
        site_buildings.append(
            ButlrBuilding(
                id=f"building_{b:02d}", name=f"Building {b}", floors=building_floors
            )
        )
    return ButlrScenario(
        accounts={ACCOUNT[0]: ACCOUNT[1]},
        sites=[
            ButlrSite(
                id=BUTLR_SITE,
                name="Large campus",
                timezone="America/New_York",
                buildings=site_buildings,
            )
        ],
        clock=lambda: now,
        # A token that outlives any test.
        expires_in=10_000_000,
    )


class IndexedOccuspaceScenario(OccuspaceScenario):
    """The simulator's Occuspace scenario with O(1) lookups of locations."""

    def index(self) -> None:
        """(Re)build the lookups: call after changing ``locations``."""
        self._by_id = {location.id: location for location in self.locations}
        self._children: dict[int, list[OccuspaceLocation]] = {}
        for location in self.locations:
            if location.parent_id is not None:
                self._children.setdefault(location.parent_id, []).append(location)

    def location(self, location_id: int) -> OccuspaceLocation | None:
        """Return the location with this id, if there is one."""
        return self._by_id.get(location_id)

    def children(self, location_id: int) -> list[OccuspaceLocation]:
        """Return the direct children of a location."""
        return self._children.get(location_id, [])


def large_occuspace(
    *,
    buildings: int = 20,
    floors: int = 5,
    locations: int = 2000,
    seed: int = 2000,
) -> IndexedOccuspaceScenario:
    """A campus (id 1) of buildings, their floors and zones: ``locations`` in all.

    Zones are dealt round the floors; their names repeat on no two floors
    ("Zone 17" is one zone).
    """
    rng = random.Random(seed)  # noqa: S311 - a test account, not a secret
    tree = [OccuspaceLocation(1, "Campus", None, 0)]
    floor_ids: list[int] = []
    next_id = 2
    for b in range(buildings):
        building_id = next_id
        next_id += 1
        tree.append(OccuspaceLocation(building_id, f"Building {b}", 1, 2000))
        for f in range(floors):
            tree.append(
                OccuspaceLocation(next_id, f"Building {b} floor {f}", building_id, 400)
            )
            floor_ids.append(next_id)
            next_id += 1
    for z in range(locations - len(tree)):
        capacity = rng.choice((0, 10, 20, 40, 80, 150))
        tree.append(
            OccuspaceLocation(
                next_id,
                f"Zone {z}",
                floor_ids[z % len(floor_ids)],
                capacity,
                count=rng.randint(0, capacity or 12),
            )
        )
        next_id += 1
    scenario = IndexedOccuspaceScenario(locations=tree, tokens={SEED_TOKEN})
    scenario.index()
    return scenario
