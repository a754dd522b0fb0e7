"""The coordinator: one poll of the provider per interval, one snapshot per poll.

It fetches, maps the client's errors to Home Assistant's, keeps the interval,
and tells the entities of the spaces that changed (``changes.py``). What a
good poll means to the rest of the entry (devices, history) is told to the
poll observers that ``data.py`` registers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .changes import NewEntitySpaces, SpaceContext, SpaceListeners, changes_between
from .const import DOMAIN, LOGGER, PUSH_POLL_INTERVAL
from .issues import PollProblems
from .options import EntrySettings
from .providers import Provider, ProviderError, Snapshot
from .state import SpaceState, SpaceStates, without_stale
from .turns import in_turns

# Spaces whose usual-occupancy sensors write in one event-loop step (two
# sensors a space, a few hundredths of a millisecond each).
USUAL_BATCH = 250

# Called after each good poll with its snapshot, and whether polls had failed.
type PollObserver = Callable[[Snapshot, bool], Awaitable[None]]


class OccupancyCoordinator(DataUpdateCoordinator[Snapshot]):
    """Polls one provider account and keeps its latest snapshot."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        client: Provider,
        settings: EntrySettings,
        problems: PollProblems,
    ) -> None:
        """Poll a client for a config entry, with the entry's settings."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=settings.interval,
        )
        self.client = client
        self.settings = settings
        self.problems = problems
        self.states = SpaceStates(settings.thresholds, settings.capacities)
        self._spaces = SpaceListeners()
        self._observers: list[PollObserver] = []
        self._push_active = False
        # Spaces that may need new entities (first readings, pushed motion)
        # without a new topology or settings: the platforms look at them again.
        self.new_entities = NewEntitySpaces()
        # What the entities were last told: snapshot, availability, settings.
        self._told: tuple[Snapshot | None, bool, EntrySettings] | None = None

    @callback
    def async_add_poll_observer(self, observer: PollObserver) -> CALLBACK_TYPE:
        """Call ``observer`` after every good poll, before the entities hear of it."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer)

    @callback
    def async_add_listener(
        self, update_callback: CALLBACK_TYPE, context: Any = None
    ) -> Callable[[], None]:
        """Listen to one space (an entity, by its context) or to every update."""
        if isinstance(context, SpaceContext):
            return self._spaces.add(update_callback, context)
        return super().async_add_listener(update_callback, context)

    @callback
    def async_update_listeners(self) -> None:
        """Tell the entities of the spaces that changed, then the other listeners."""
        data = self.data
        self.states.set_snapshot(data)
        told, self._told = self._told, (data, self.last_update_success, self.settings)
        if (
            told is None
            or told[0] is None
            or data is None
            or told[1] != self.last_update_success
            or told[2] is not self.settings
        ):
            self._spaces.tell_everyone()
        elif told[0] is not data:
            changes = changes_between(told[0], data)
            if changes.appeared:
                self.new_entities.note(changes.appeared)
            self._spaces.tell(changes)
        super().async_update_listeners()

    @callback
    def async_apply_settings(self, settings: EntrySettings) -> None:
        """Take new settings: the interval now, the entities from the same snapshot.

        New picked spaces need a poll of their own: it is made at once.
        """
        repoll = settings.picked != self.settings.picked
        self.settings = settings
        self.update_interval = self.problems.interval(self._interval())
        self.states.set_settings(settings.thresholds, settings.capacities)
        self.async_update_listeners()
        if repoll and self.config_entry is not None:
            self.config_entry.async_create_background_task(
                self.hass, self.async_refresh(), f"{DOMAIN} poll of new spaces"
            )

    @callback
    def async_set_pushed(self, snapshot: Snapshot) -> None:
        """Take a snapshot a push changed: its spaces' entities hear of it now.

        The polls keep their schedule (``async_set_updated_data`` would push
        them back at every event): they are the safety net.
        """
        self.data = snapshot
        self.async_update_listeners()

    @callback
    def async_set_push_active(self, active: bool) -> None:
        """Poll less often while pushes arrive; as configured once they stop."""
        self._push_active = active
        self.update_interval = self.problems.interval(self._interval())

    def _interval(self) -> timedelta:
        """Return the configured interval, longer while pushes arrive."""
        if self._push_active:
            return max(self.settings.interval, PUSH_POLL_INTERVAL)
        return self.settings.interval

    @callback
    async def async_set_usual(self, usual: dict[str, float]) -> None:
        """Take the hour's usual occupancy; wake only the entities that show it.

        Each hour's usual differs from the last: thousands of spaces' sensors
        write, so they are told USUAL_BATCH spaces per event-loop step.
        """
        self.states.set_snapshot(self.data)
        async for batch in in_turns(list(self.states.set_usual(usual)), USUAL_BATCH):
            self._spaces.tell_usual(batch)

    def space_state(self, space_id: str) -> SpaceState | None:
        """Return the state of a space, None when the provider no longer has it."""
        self.states.set_snapshot(self.data)
        return self.states.get(space_id)

    async def async_config_entry_first_refresh(self) -> None:
        """Refresh before setup; while a quota looks spent, set up all the same.

        Home Assistant retries a setup that failed every 80 s at most, each
        time with a new coordinator: a spent Concordia quota at startup would
        cost hundreds of refused calls a day. Instead the entry loads, its
        entities stay unavailable (those known from before) and the 30-minute
        back-off and the repair issue hold from the very first refusal.
        """
        try:
            await super().async_config_entry_first_refresh()
        except ConfigEntryNotReady:
            if not self.problems.quota_backoff:
                raise
            LOGGER.debug("%s: quota spent at setup, polling slower", self.name)

    async def _async_update_data(self) -> Snapshot:
        try:
            snapshot = await self.client.async_fetch(self.settings.picked)
        except ProviderError as err:
            failure = self.problems.failure(err)
            self.update_interval = self.problems.interval(self._interval())
            raise failure from err
        recovered = not self.last_update_success
        self.problems.good_poll()
        self.update_interval = self._interval()
        if self.settings.stale_after is not None:
            snapshot = without_stale(snapshot, self.settings.stale_after)
        for observer in list(self._observers):
            await observer(snapshot, recovered)
        return snapshot
