"""The devices of an entry's spaces: one per space, linked to its parent's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .const import DOMAIN, LOGGER, SPACE_REMOVAL_GRACE
from .providers import Snapshot, Space


def ordered_space_ids(spaces: Mapping[str, Space]) -> list[str]:
    """Space ids with every parent before its children (devices need that order)."""
    ordered: list[str] = []
    seen: set[str] = set()

    def visit(space_id: str, path: frozenset[str]) -> None:
        if space_id in seen or space_id in path:
            return
        parent = spaces[space_id].parent_id
        if parent is not None and parent in spaces:
            visit(parent, path | {space_id})
        seen.add(space_id)
        ordered.append(space_id)

    for space_id in spaces:
        visit(space_id, frozenset())
    return ordered


class SpaceDevices:
    """Keeps the device registry in step with a provider's spaces."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, manufacturer: str
    ) -> None:
        """Serve one config entry's spaces."""
        self.hass = hass
        self._entry = entry
        self._manufacturer = manufacturer
        # Device registry id of each space whose device this run made or met.
        self._device_ids: dict[str, str] = {}
        # Since when each space with a device has been missing from the provider.
        self._missing_since: dict[str, datetime] = {}
        self._shown: frozenset[str] = frozenset()
        self._synced_spaces: Mapping[str, Space] | None = None

    def identifier(self, space_id: str) -> tuple[str, str]:
        """Return the device registry identifier of a space."""
        return (DOMAIN, f"{self._entry.unique_id}_{space_id}")

    def space_id_of(self, device: dr.DeviceEntry) -> str | None:
        """Return the id of the space a device stands for; None if it is none of ours."""
        prefix = f"{self._entry.unique_id}_"
        return next(
            (
                identifier.removeprefix(prefix)
                for domain, identifier in device.identifiers
                if domain == DOMAIN and identifier.startswith(prefix)
            ),
            None,
        )

    @callback
    def async_sync(self, snapshot: Snapshot) -> None:
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
            identifiers={self.identifier(space.id)},
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
            space_id = self.space_id_of(device)
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
