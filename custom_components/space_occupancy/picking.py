"""Picking the spaces an entry shows: what the form offers, costs and refuses.

The form lists the account's spaces by path, parents before children. A
picked space brings everything below it, now and later, so picks are stored
as the smallest list of ids that says the same; all of an account picked (and
no other entry holding a part of it) is stored as "everything" (no list), so
that new sites come too. One account may be split over several entries: each
holds its own part, and an entry's unique id says which part it holds.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from .budget import selection_cost
from .providers import Snapshot, Space
from .providers.selection import children_of, expand, ordered_space_ids, space_path


@dataclass(frozen=True, slots=True)
class AccountSpaces:
    """An account's spaces as the form sees them."""

    spaces: Mapping[str, Space]
    # Spaces that get a device when picked (the provider has a reading of them).
    shown: frozenset[str]
    # Spaces another entry of the same account holds, everything below included.
    held: frozenset[str] = frozenset()
    # Whether other entries of the account exist (even holding nothing now).
    split: bool = False
    # Whether the entry takes pushes (its rooms then may get a motion sensor).
    pushes: bool = False

    @classmethod
    def of(
        cls,
        snapshot: Snapshot,
        held: Iterable[str] | None = (),
        *,
        split: bool = False,
        pushes: bool = False,
    ) -> AccountSpaces:
        """Read an account from a snapshot of all of it.

        ``held`` None: another entry holds the whole account. ``split``: other
        entries of the account exist, so this one is never "everything": were
        it, the two would overlap as soon as the others' spaces came back or
        were added, and build the same device and entity ids.
        """
        return cls(
            spaces=snapshot.spaces,
            shown=frozenset(snapshot.readings.keys() & snapshot.spaces.keys()),
            held=frozenset(snapshot.spaces if held is None else held),
            split=split or held is None,
            pushes=pushes,
        )

    def pickable(self) -> list[str]:
        """Shown spaces, parents first, that hold nothing another entry holds."""
        blocked = set(self.held)
        for space_id in self.held:
            blocked.update(_ancestors(self.spaces, space_id))
        return [
            space_id
            for space_id in ordered_space_ids(self.spaces)
            if space_id in self.shown and space_id not in blocked
        ]

    def label(self, space_id: str) -> str:
        """Return a space's label in the form: its path of names."""
        return space_path(self.spaces, space_id)

    def shown_of(self, picks: Collection[str] | None) -> frozenset[str]:
        """Return the shown spaces a selection brings (None: every one not held)."""
        wanted = expand(self.spaces, picks)
        shown = self.shown - self.held
        return shown if wanted is None else shown & wanted

    def cost(self, picks: Collection[str] | None, capacities: Mapping[str, int]) -> int:
        """Return the enabled entities a selection makes."""
        return selection_cost(
            self.spaces, self.shown_of(picks), capacities, self.pushes
        )

    def stored(self, picks: Collection[str]) -> list[str] | None:
        """Return what the options keep: None for all of an unsplit account, else ids.

        An id under another picked id says nothing more and is left out.
        """
        wanted = expand(self.spaces, picks) or frozenset()
        if not self.held and not self.split and self.shown <= wanted:
            return None
        return [
            space_id
            for space_id in ordered_space_ids(self.spaces)
            if space_id in picks and not _ancestors(self.spaces, space_id) & set(picks)
        ]

    def _tops(self, pickable: list[str]) -> list[str]:
        """Return the pickable spaces with no pickable space above them."""
        allowed = set(pickable)
        return [s for s in pickable if not _ancestors(self.spaces, s) & allowed]

    def current(self, picked: Collection[str] | None) -> list[str]:
        """Return an entry's picks as the form shows them (everything: the tops)."""
        pickable = self.pickable()
        if picked is None:
            return self._tops(pickable)
        return [space_id for space_id in pickable if space_id in picked]

    def default(self, capacities: Mapping[str, int], cap: int | None) -> list[str]:
        """Return the largest parts, in tree order, whose entities fit under the cap.

        The parts are a prefix of the tree: where a space does not fit, its
        children are tried one by one, and the first space that fits in no way
        ends the selection. Skipping it for smaller spaces further on would
        scatter the picks over many floors, each of which a second entry
        could then no longer pick whole (with its future rooms).
        """
        children = children_of(self.spaces)
        pickable = self.pickable()
        allowed = set(pickable)
        room = float("inf") if cap is None else cap
        picks: list[str] = []
        pending = self._tops(pickable)
        while pending:
            space_id = pending.pop(0)
            cost = self.cost([space_id], capacities)
            if cost <= room:
                picks.append(space_id)
                room -= cost
                continue
            # Too big as a whole: its children may fit one by one.
            kids = [c for c in children.get(space_id, ()) if c in allowed]
            if not kids:
                break
            pending[:0] = kids
        return picks


def _ancestors(spaces: Mapping[str, Space], space_id: str) -> set[str]:
    """Return the spaces above one, up to its top."""
    found: set[str] = set()
    current = spaces.get(space_id)
    while current is not None and current.parent_id in spaces:
        parent = current.parent_id
        if parent is None or parent in found or parent == space_id:
            break
        found.add(parent)
        current = spaces[parent]
    return found


def part_unique_id(account_key: str, stored: list[str] | None) -> str:
    """Return an entry's unique id: the account, and the part it holds if not all."""
    if stored is None:
        return account_key
    return f"{account_key}/{'+'.join(sorted(stored))}"
