"""Config entry version 2: unique ids scoped by provider, migrated in place."""

from __future__ import annotations

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.space_occupancy.const import (
    AUTH_CONCORDIA,
    CONF_AUTH_METHOD,
    CONF_BASE_URL,
    CONF_PROVIDER,
    DOMAIN,
)
from custom_components.space_occupancy.providers import (
    PROVIDER_CONCORDIA,
    PROVIDER_OCCUSPACE,
)

from .conftest import SimulatorServer, find_device, setup_entry
from .simulator import concordia, occuspace


async def test_version_1_entry_keeps_its_entities_and_devices(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    occuspace_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A version-1 entry (bare ids) moves to scoped ids; entity ids stay, nothing doubles."""
    simulator.occuspace = occuspace.seed_scenario()
    hass.config_entries.async_update_entry(occuspace_entry, unique_id="1", version=1)
    # What version 1 registered: devices "1_<location>", entities "1_<location>_<key>".
    floor = device_registry.async_get_or_create(
        config_entry_id=occuspace_entry.entry_id,
        identifiers={(DOMAIN, "1_3")},
        name="Office 1st Floor",
    )
    old = entity_registry.async_get_or_create(
        "sensor",
        DOMAIN,
        "1_3_occupancy",
        config_entry=occuspace_entry,
        device_id=floor.id,
        suggested_object_id="office_1st_floor_occupancy",
    )
    entity_registry.async_update_entity(old.entity_id, name="Floor one people")
    # Another integration's identifier on the device, and an entity of the entry
    # not made by a space: both are left as they are.
    device_registry.async_update_device(
        floor.id, new_identifiers={(DOMAIN, "1_3"), ("other", "1_3")}
    )
    other = entity_registry.async_get_or_create(
        "sensor", DOMAIN, "unrelated", config_entry=occuspace_entry
    )
    foreign = device_registry.async_get_or_create(
        config_entry_id=occuspace_entry.entry_id, identifiers={("other", "hub")}
    )

    await setup_entry(hass, occuspace_entry)

    assert occuspace_entry.state is ConfigEntryState.LOADED
    assert (occuspace_entry.version, occuspace_entry.unique_id) == (2, "occuspace_1")
    migrated = entity_registry.async_get(old.entity_id)
    assert migrated.unique_id == "occuspace_1_3_occupancy"
    assert migrated.name == "Floor one people"  # the user's settings stay
    assert hass.states.get(old.entity_id).state == "70"
    assert hass.states.get("sensor.office_1st_floor_occupancy_2") is None
    device = find_device(hass, occuspace_entry, "3")
    assert device is not None
    assert device.id == floor.id
    assert device.identifiers == {(DOMAIN, "occuspace_1_3"), ("other", "1_3")}
    assert entity_registry.async_get(other.entity_id).unique_id == "unrelated"
    assert device_registry.async_get(foreign.id).identifiers == {("other", "hub")}


async def test_entry_from_a_newer_version_is_refused(
    hass: HomeAssistant, simulator: SimulatorServer, occuspace_entry: MockConfigEntry
) -> None:
    """An entry written by a newer release is left alone, not loaded."""
    hass.config_entries.async_update_entry(occuspace_entry, version=3)
    assert not await hass.config_entries.async_setup(occuspace_entry.entry_id)
    assert occuspace_entry.state is ConfigEntryState.MIGRATION_ERROR


async def test_same_account_id_at_two_providers(
    hass: HomeAssistant, simulator: SimulatorServer
) -> None:
    """An Occuspace root location 1234 does not block Concordia's user 1234."""
    simulator.concordia = concordia.seed_scenario(dt_util.utcnow())
    MockConfigEntry(
        domain=DOMAIN,
        title="Occuspace (Library)",
        unique_id=f"{PROVIDER_OCCUSPACE}_{concordia.SEED_USER_ID}",
        version=2,
        data={CONF_PROVIDER: PROVIDER_OCCUSPACE},
    ).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": AUTH_CONCORDIA}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "user_id": concordia.SEED_USER_ID,
            "api_key": concordia.SEED_API_KEY,
            "advanced": {CONF_BASE_URL: f"{simulator.base_url}/API/v1"},
        },
    )
    assert result["step_id"] == "spaces"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], result["data_schema"]({})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.unique_id == f"{PROVIDER_CONCORDIA}_{concordia.SEED_USER_ID}"
    assert entry.data[CONF_AUTH_METHOD] == AUTH_CONCORDIA
    await hass.async_block_till_done(wait_background_tasks=True)


def _version_1_registry(
    hass: HomeAssistant, entry: MockConfigEntry
) -> tuple[dr.DeviceEntry, er.RegistryEntry]:
    """What version 1 registered for the seed's first floor: bare ids."""
    devices = dr.async_get(hass)
    entities = er.async_get(hass)
    floor = devices.async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, "1_3")},
        name="Office 1st Floor",
    )
    occupancy = entities.async_get_or_create(
        "sensor",
        DOMAIN,
        "1_3_occupancy",
        config_entry=entry,
        device_id=floor.id,
        suggested_object_id="office_1st_floor_occupancy",
    )
    entities.async_update_entity(occupancy.entity_id, name="Floor one people")
    return floor, occupancy


async def test_stop_between_entry_and_registries_is_repaired(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    occuspace_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Entry saved as version 2, registries still version 1: moved at the next setup.

    Home Assistant saves a migrated entry at once and the registries up to
    minutes later: a hard stop in between leaves a version 2 entry whose
    entities still carry version 1 ids.
    """
    simulator.occuspace = occuspace.seed_scenario()
    floor, occupancy = _version_1_registry(hass, occuspace_entry)

    await setup_entry(hass, occuspace_entry)

    assert entity_registry.async_get(occupancy.entity_id).unique_id == (
        "occuspace_1_3_occupancy"
    )
    assert hass.states.get(occupancy.entity_id).state == "70"
    assert hass.states.get("sensor.office_1st_floor_occupancy_2") is None
    device = find_device(hass, occuspace_entry, "3")
    assert device is not None
    assert device.id == floor.id


async def test_duplicates_a_stopped_migration_made_are_merged(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    occuspace_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A setup already ran on version 1 ids: its duplicates go, the originals stay.

    The duplicate ``_2`` entity and its device are removed; the original
    entity (the user's name, its history under its entity id) takes the
    version 2 id.
    """
    simulator.occuspace = occuspace.seed_scenario()
    floor, occupancy = _version_1_registry(hass, occuspace_entry)
    duplicate_device = device_registry.async_get_or_create(
        config_entry_id=occuspace_entry.entry_id,
        identifiers={(DOMAIN, "occuspace_1_3")},
        name="Office 1st Floor",
    )
    duplicate = entity_registry.async_get_or_create(
        "sensor",
        DOMAIN,
        "occuspace_1_3_occupancy",
        config_entry=occuspace_entry,
        device_id=duplicate_device.id,
        suggested_object_id="office_1st_floor_occupancy",
    )
    assert duplicate.entity_id == "sensor.office_1st_floor_occupancy_2"

    await setup_entry(hass, occuspace_entry)

    kept = entity_registry.async_get(occupancy.entity_id)
    assert kept.unique_id == "occuspace_1_3_occupancy"
    assert kept.name == "Floor one people"
    assert entity_registry.async_get(duplicate.entity_id) is None
    assert hass.states.get(duplicate.entity_id) is None
    assert hass.states.get(occupancy.entity_id).state == "70"
    device = find_device(hass, occuspace_entry, "3")
    assert device is not None
    assert device.id == floor.id
    assert device_registry.async_get(duplicate_device.id) is None
