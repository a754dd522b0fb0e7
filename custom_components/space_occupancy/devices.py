"""The devices of an entry's spaces: one per space, linked to its parent's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .const import LOGGER, SPACE_REMOVAL_GRACE
from .ids import SpaceIds
from .providers import Snapshot, Space


def ordered_space_ids(spaces: Mapping[str, Space]) -> list[str]:
    """Space ids with every parent before its children (devices need that order).

    Iterative, so that a tree of any depth (or a parent cycle) is walked
    without recursion; a space in a parent cycle comes after the others.
    """
    children: dict[str | None, list[str]] = {}
    for space_id, space in spaces.items():
        parent = space.parent_id if space.parent_id in spaces else None
        children.setdefault(parent if parent != space_id else None, []).append(space_id)
    ordered: list[str] = []
    seen: set[str] = set()
    pending = list(reversed(children.get(None, [])))
    while pending:
        space_id = pending.pop()
        if space_id in seen:
            continue
        seen.add(space_id)
        ordered.append(space_id)
        pending.extend(reversed(children.get(space_id, [])))
    ordered.extend(space_id for space_id in spaces if space_id not in seen)
    return ordered


class SpaceDevices:
    """Keeps the device registry in step with a provider's spaces."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, ids: SpaceIds, manufacturer: str
    ) -> None:
        """Serve one config entry's spaces."""
        self.hass = hass
        self._entry = entry
        self._ids = ids
        self._manufacturer = manufacturer
        # Device registry id of each space whose device this run made or met.
        self._device_ids: dict[str, str] = {}
        # Since when each space with a device has been missing from the provider.
        self._missing_since: dict[str, datetime] = {}
        self._shown: frozenset[str] = frozenset()
        self._synced_spaces: Mapping[str, Space] | None = None

    @callback
    def async_sync(self, snapshot: Snapshot, recovered: bool = False) -> None:
        """Keep a device per shown space: create, rename, relink; drop long-gone ones.

        Providers hand out a new spaces mapping only when they re-read their
        spaces (hourly for Butlr and Occuspace): most polls skip the walk.
        """
        registry = dr.async_get(self.hass)
        shown_ids = frozenset(snapshot.readings.keys() & snapshot.spaces.keys())
        shown_changed = shown_ids != self._shown
        if shown_changed or snapshot.spaces is not self._synced_spaces:
            self._shown = shown_ids
            self._synced_spaces = snapshot.spaces
            shown = {space_id: snapshot.spaces[space_id] for space_id in shown_ids}
            for space_id in ordered_space_ids(shown):
                self._sync_device(registry, shown[space_id])
        if shown_changed or self._missing_since:
            self._remove_gone_devices(registry, shown_ids, snapshot.fetched_at)

    def _sync_device(self, registry: dr.DeviceRegistry, space: Space) -> None:
        """Create or update a space's device, linked to its parent's.

        The provider's name is the device's name: a space renamed at the
        provider is renamed here, while a name the user gave (``name_by_user``)
        stays in front. The link is set by device id after creation: that
        works on every Home Assistant line we support, where ``via_device`` is
        deprecated on 2026.x. Parents come first, so their ids are known here.
        """
        device = registry.async_get_or_create(
            config_entry_id=self._entry.entry_id,
            identifiers={self._ids.device_identifier(space.id)},
            name=space.name,
            manufacturer=self._manufacturer,
            model=space.kind.value.capitalize(),
            # A space is a place with sensors, not a service (earlier versions
            # said service; None corrects their devices).
            entry_type=None,
        )
        self._device_ids[space.id] = device.id
        parent_device_id = (
            None if space.parent_id is None else self._device_ids.get(space.parent_id)
        )
        if device.via_device_id != parent_device_id:
            registry.async_update_device(device.id, via_device_id=parent_device_id)

    def _remove_gone_devices(
        self, registry: dr.DeviceRegistry, present: frozenset[str], now: datetime
    ) -> None:
        for device in dr.async_entries_for_config_entry(registry, self._entry.entry_id):
            space_id = self._ids.space_id_of(device)
            if space_id is None or space_id in present:
                self._missing_since.pop(space_id or "", None)
                continue
            since = self._missing_since.setdefault(space_id, now)
            if now - since >= SPACE_REMOVAL_GRACE:
                LOGGER.debug(
                    "Removing the device of space %s, gone since %s", space_id, since
                )
                # The device is this entry's alone. (Removing the entry from a
                # device is deprecated on Home Assistant 2026.x.)
                registry.async_remove_device(device.id)
                self._missing_since.pop(space_id)
                self._device_ids.pop(space_id, None)
