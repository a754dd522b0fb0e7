"""The id schemes: config entries, devices and entities, in one place.

- A config entry's unique id is the provider's account id scoped by provider
  (``occuspace_1``), so that two providers' ids never collide.
- A space's device identifier is ``(DOMAIN, "{prefix}_{space id}")`` and its
  entities' unique ids ``"{prefix}_{space id}_{key}"``, where the prefix is the
  entry's unique id. Ids therefore stay the same across restarts, reloads and
  credential changes, and an entity keeps its history.
"""

from __future__ import annotations

from collections.abc import Iterable

from homeassistant.const import Platform
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .const import DOMAIN

OCCUPANCY_KEY = "occupancy"


def entry_unique_id(provider: str, account_id: str) -> str:
    """Return a config entry's unique id: the account's id, scoped by provider.

    Providers' ids may coincide (an Occuspace root location 1234 and a
    Concordia user 1234): scoped, neither entry blocks the other, and the
    device identifiers and entity unique ids built on it do not overlap.
    """
    return f"{provider}_{account_id}"


class SpaceIds:
    """The device and entity ids of one entry's spaces."""

    def __init__(self, prefix: str) -> None:
        """Build ids on a prefix: the entry's unique id."""
        self.prefix = prefix
        self._device_prefix = f"{prefix}_"

    def device_identifier(self, space_id: str) -> tuple[str, str]:
        """Return the device registry identifier of a space."""
        return (DOMAIN, f"{self.prefix}_{space_id}")

    def entity_unique_id(self, space_id: str, key: str) -> str:
        """Return the unique id of a space's entity."""
        return f"{self.prefix}_{space_id}_{key}"

    def space_of_unique_id(self, unique_id: str, keys: Iterable[str]) -> str | None:
        """Return the space of one of our entities' unique ids; None if not ours."""
        if not unique_id.startswith(self._device_prefix):
            return None
        rest = unique_id.removeprefix(self._device_prefix)
        # Keys hold underscores too ("occupancy_percentage"): the longest first.
        for key in sorted(keys, key=len, reverse=True):
            if rest.endswith(f"_{key}") and len(rest) > len(key) + 1:
                return rest.removesuffix(f"_{key}")
        return None

    def space_id_of(self, device: dr.DeviceEntry) -> str | None:
        """Return the id of the space a device stands for; None if it is none of ours."""
        return next(
            (
                identifier.removeprefix(self._device_prefix)
                for domain, identifier in device.identifiers
                if domain == DOMAIN and identifier.startswith(self._device_prefix)
            ),
            None,
        )

    def occupancy_entity_ids(
        self, registry: er.EntityRegistry, space_ids: Iterable[str]
    ) -> dict[str, str]:
        """Return the entity id of each space's enabled occupancy sensor.

        The occupancy sensor's entity id is its statistic id: history and the
        usual occupancy are read and written there.
        """
        ids: dict[str, str] = {}
        for space_id in space_ids:
            entity_id = registry.async_get_entity_id(
                Platform.SENSOR,
                DOMAIN,
                self.entity_unique_id(space_id, OCCUPANCY_KEY),
            )
            if entity_id is not None and not (
                (entry := registry.async_get(entity_id)) and entry.disabled
            ):
                ids[space_id] = entity_id
        return ids
