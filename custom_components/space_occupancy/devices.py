"""The devices of an entry's spaces: one per shown space, linked to its parent's.

A space is shown while the snapshot has a reading of it (the provider has it
and it is picked). A device goes:
- at once when its space is no longer picked (the user's choice);
- when its space has been missing from the provider for ``SPACE_REMOVAL_GRACE``
  (24 hours) and from ``SPACE_REMOVAL_ANSWERS`` (3) topology answers in a row:
  an outage or a bad answer of a day never deletes a device, with the names,
  areas and settings the user gave it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .areas import AreaPlacer, is_room
from .const import LOGGER, SPACE_REMOVAL_ANSWERS, SPACE_REMOVAL_GRACE
from .ids import SpaceIds
from .options import EntrySettings
from .providers import Snapshot, Space
from .providers.selection import children_of, expand, ordered_space_ids
from .turns import in_turns

# Devices created or updated per event-loop step: an account's thousands at
# once would freeze Home Assistant (a device is about a tenth of a millisecond).
DEVICE_BATCH = 200


class SpaceDevices:
    """Keeps the device registry in step with a provider's spaces."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        ids: SpaceIds,
        manufacturer: str,
        *,
        settings: EntrySettings,
        admitted: Callable[[Snapshot], frozenset[str] | None],
    ) -> None:
        """Serve one config entry's spaces.

        ``admitted`` returns the spaces Home Assistant's entity cap leaves room
        for (budget.py; None: all): the others get no device either.
        """
        self.hass = hass
        self._entry = entry
        self._ids = ids
        self._manufacturer = manufacturer
        self._settings = settings
        self._admitted = admitted
        self._areas = AreaPlacer(hass)
        # Since when each space with a device has been missing from the
        # provider, and from how many topology answers (spaces mappings).
        self._missing_since: dict[str, datetime] = {}
        self._missing_answers: dict[str, int] = {}
        self._shown: frozenset[str] = frozenset()
        self._synced_spaces: Mapping[str, Space] | None = None
        # New room devices to put in areas once their entities exist: entity
        # ids are made when an entity is registered, and on Home Assistant
        # 2026 they start with the area's name ("cafeteria_cafeteria_...").
        self._to_place: dict[str, str] = {}

    @callback
    def async_apply_settings(
        self, settings: EntrySettings, snapshot: Snapshot | None
    ) -> None:
        """Take new settings; areas just turned on place the devices without one."""
        areas_turned_on = settings.areas and not self._settings.areas
        self._settings = settings
        if areas_turned_on and snapshot is not None:
            self._place_unplaced(snapshot)

    async def async_sync(self, snapshot: Snapshot, recovered: bool = False) -> None:
        """Keep a device per shown space: create, rename, relink; drop the others.

        Providers hand out a new spaces mapping only when they re-read their
        spaces (hourly for Butlr and Occuspace): most polls skip the walk.
        """
        registry = dr.async_get(self.hass)
        # Those made at the last sync have their entities by now.
        self.async_place_new(snapshot)
        shown_ids = frozenset(snapshot.readings.keys() & snapshot.spaces.keys())
        shown_changed = shown_ids != self._shown
        new_answer = snapshot.spaces is not self._synced_spaces
        # Removing first frees room under the entity cap for the new spaces.
        if shown_changed or self._missing_since:
            self._remove_devices(registry, snapshot, shown_ids, new_answer=new_answer)
        if shown_changed or new_answer:
            self._shown = shown_ids
            self._synced_spaces = snapshot.spaces
            await self._async_sync_devices(registry, snapshot, shown_ids)

    def _our_devices(self, registry: dr.DeviceRegistry) -> dict[str, dr.DeviceEntry]:
        """Return the entry's devices, by space id."""
        devices: dict[str, dr.DeviceEntry] = {}
        for device in dr.async_entries_for_config_entry(registry, self._entry.entry_id):
            if (space_id := self._ids.space_id_of(device)) is not None:
                devices[space_id] = device
        return devices

    async def _async_sync_devices(
        self, registry: dr.DeviceRegistry, snapshot: Snapshot, shown: frozenset[str]
    ) -> None:
        """Create, rename and relink the shown spaces' devices, parents first."""
        existing = self._our_devices(registry)
        device_ids = {space_id: device.id for space_id, device in existing.items()}
        children = children_of(snapshot.spaces)
        admitted = self._admitted(snapshot)
        to_sync = [
            space_id
            for space_id in ordered_space_ids(snapshot.spaces)
            if space_id in shown
            and (admitted is None or space_id in admitted or space_id in existing)
        ]
        async for batch in in_turns(to_sync, DEVICE_BATCH):
            for space_id in batch:
                space = snapshot.spaces[space_id]
                device_ids[space_id] = self._sync_device(registry, space, device_ids)
                if (
                    self._settings.areas
                    and space_id not in existing
                    and is_room(space, space_id in children)
                ):
                    self._to_place[space_id] = device_ids[space_id]

    def _sync_device(
        self, registry: dr.DeviceRegistry, space: Space, device_ids: Mapping[str, str]
    ) -> str:
        """Create or update a space's device, linked to its parent's; return its id.

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
        parent_device_id = device_ids.get(space.parent_id or "")
        if device.via_device_id != parent_device_id:
            registry.async_update_device(device.id, via_device_id=parent_device_id)
        return device.id

    @callback
    def async_place_new(self, snapshot: Snapshot | None) -> None:
        """Put the room devices made since the last call into areas of their names.

        Called once their entities are registered: after setup, and at the
        next poll for rooms added later.
        """
        to_place, self._to_place = self._to_place, {}
        if snapshot is None or not self._settings.areas:
            return
        registry = dr.async_get(self.hass)
        for space_id, device_id in to_place.items():
            device = registry.async_get(device_id)
            space = snapshot.spaces.get(space_id)
            if device is not None and space is not None and device.area_id is None:
                self._areas.place(device_id, space, snapshot.spaces)

    def _place_unplaced(self, snapshot: Snapshot) -> None:
        """Put every shown room's device that has no area into the area of its name."""
        children = children_of(snapshot.spaces)
        for space_id, device in self._our_devices(dr.async_get(self.hass)).items():
            space = snapshot.spaces.get(space_id)
            if (
                space is not None
                and device.area_id is None
                and space_id in snapshot.readings
                and is_room(space, space_id in children)
            ):
                self._areas.place(device.id, space, snapshot.spaces)

    def _remove_devices(
        self,
        registry: dr.DeviceRegistry,
        snapshot: Snapshot,
        shown: frozenset[str],
        *,
        new_answer: bool,
    ) -> None:
        """Remove unpicked spaces' devices now, and long-missing ones (see above)."""
        picked = expand(snapshot.spaces, self._settings.picked)
        now = snapshot.fetched_at
        for space_id, device in self._our_devices(registry).items():
            if space_id in shown:
                self._missing_since.pop(space_id, None)
                self._missing_answers.pop(space_id, None)
                continue
            if (
                picked is not None
                and space_id in snapshot.spaces
                and (space_id not in picked)
            ):
                self._remove(registry, device, space_id, "no longer picked")
                continue
            since = self._missing_since.setdefault(space_id, now)
            answers = self._missing_answers.get(space_id, 0) + (
                new_answer or space_id not in self._missing_answers
            )
            self._missing_answers[space_id] = answers
            if now - since >= SPACE_REMOVAL_GRACE and answers >= SPACE_REMOVAL_ANSWERS:
                self._remove(registry, device, space_id, f"missing since {since}")

    def _remove(
        self,
        registry: dr.DeviceRegistry,
        device: dr.DeviceEntry,
        space_id: str,
        why: str,
    ) -> None:
        LOGGER.debug("Removing the device of space %s (%s)", space_id, why)
        # The device is this entry's alone. (Removing the entry from a device
        # is deprecated on Home Assistant 2026.x.)
        registry.async_remove_device(device.id)
        self._missing_since.pop(space_id, None)
        self._missing_answers.pop(space_id, None)
