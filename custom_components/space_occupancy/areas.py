"""Areas and floors for the devices of picked rooms (an option of the entry).

A room (Butlr room, Occuspace location without children, Concordia library)
goes into a Home Assistant area of its name, created where none exists; an
area made here for a Butlr room goes on a Home Assistant floor named after the
room's Butlr floor. Existing areas and floors of the same name are reused, and
never changed. Two rooms of the same name on different floors get areas of
their own: "Room 1 (2nd floor)".

Only devices created while the option is on, or every device without an area
when the option is turned on, are placed: a device the user moved, or a space
renamed at the provider, stays where it is. Turning the option off leaves the
areas alone.
"""

from __future__ import annotations

from collections.abc import Mapping

from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    area_registry as ar,
    device_registry as dr,
    floor_registry as fr,
)

from .providers import Space, SpaceKind


def is_room(space: Space, has_children: bool) -> bool:
    """Whether a space is a room: what people call a place, and an area."""
    if space.kind is SpaceKind.LOCATION:
        return not has_children
    return space.kind in (SpaceKind.ROOM, SpaceKind.LIBRARY)


def _floor_of(space: Space, spaces: Mapping[str, Space]) -> Space | None:
    """Return the provider's floor above a room, where the provider has floors."""
    seen: set[str] = set()
    current = spaces.get(space.parent_id or "")
    while current is not None and current.id not in seen:
        if current.kind is SpaceKind.FLOOR:
            return current
        seen.add(current.id)
        current = spaces.get(current.parent_id or "")
    return None


class AreaPlacer:
    """Puts room devices into areas (and floors) named after the provider's."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Use Home Assistant's area, floor and device registries."""
        self._hass = hass

    def place(self, device_id: str, space: Space, spaces: Mapping[str, Space]) -> None:
        """Put a room's device into the area of its name (on its floor)."""
        floor = _floor_of(space, spaces)
        floor_id = None if floor is None else self._floor_id(floor.name)
        area_id = self._area_id(space.name, floor, floor_id)
        dr.async_get(self._hass).async_update_device(device_id, area_id=area_id)

    def _floor_id(self, name: str) -> str:
        """Return the id of the Home Assistant floor of this name, made if needed."""
        registry = fr.async_get(self._hass)
        floor = registry.async_get_floor_by_name(name) or registry.async_create(name)
        return floor.floor_id

    def _area_id(self, name: str, floor: Space | None, floor_id: str | None) -> str:
        """Return the area for a room: of its name, or named with its floor too."""
        registry = ar.async_get(self._hass)
        area = registry.async_get_area_by_name(name)
        if area is not None and (floor_id is None or area.floor_id in (None, floor_id)):
            return area.id  # The user's own, or ours on the same floor: reused.
        if area is not None and floor is not None:
            # Another floor's room of the same name: an area of its own.
            name = f"{name} ({floor.name})"
            area = registry.async_get_area_by_name(name)
            if area is not None:
                return area.id
        return registry.async_create(name, floor_id=floor_id).id
