"""Which spaces of an account the host asked for: picked spaces and everything below.

The host picks spaces (a site, a floor, a room); a picked space brings its
children, now and as they come, so the selection is stored as the picked ids
and expanded against each topology the client reads. ``None`` picks the whole
account. Ids the topology no longer has pick nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from .models import Space

# Between the names of a space's path: names repeat, paths do not.
PATH_SEPARATOR = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "


def children_of(spaces: Mapping[str, Space]) -> dict[str, list[str]]:
    """Each space's children, in the spaces' order (a parent listed as its own child is none)."""
    children: dict[str, list[str]] = {}
    for space_id, space in spaces.items():
        parent = space.parent_id
        if parent is not None and parent != space_id and parent in spaces:
            children.setdefault(parent, []).append(space_id)
    return children


def expand(
    spaces: Mapping[str, Space], picked: Collection[str] | None
) -> frozenset[str] | None:
    """Return the picked spaces and everything below them; None for everything."""
    if picked is None:
        return None
    children = children_of(spaces)
    wanted: set[str] = set()
    pending = [space_id for space_id in picked if space_id in spaces]
    while pending:
        space_id = pending.pop()
        if space_id not in wanted:
            wanted.add(space_id)
            pending.extend(children.get(space_id, ()))
    return frozenset(wanted)


class Expansion:
    """``expand``, remembered while the topology and the picks stay the same.

    A client expands its picks at every poll; the topology changes hourly at
    most, and walking an account of thousands for a few picked floors would
    cost each poll what the whole account costs.
    """

    def __init__(self) -> None:
        """Remember nothing yet."""
        self._last: (
            tuple[Mapping[str, Space], tuple[str, ...] | None, frozenset[str] | None]
            | None
        ) = None

    def __call__(
        self, spaces: Mapping[str, Space], picked: Collection[str] | None
    ) -> frozenset[str] | None:
        """Return ``expand(spaces, picked)``, the last one where nothing changed."""
        picks = None if picked is None else tuple(picked)
        last = self._last
        if last is not None and last[0] is spaces and last[1] == picks:
            return last[2]
        wanted = expand(spaces, picks)
        self._last = (spaces, picks, wanted)
        return wanted


def _is_top(spaces: Mapping[str, Space], space_id: str) -> bool:
    """Whether a space hangs under no other (its parent unknown, or itself)."""
    parent = spaces[space_id].parent_id
    return parent is None or parent == space_id or parent not in spaces


def ordered_space_ids(spaces: Mapping[str, Space]) -> list[str]:
    """Space ids with every parent before its children (devices need that order).

    Iterative, so that a tree of any depth (or a parent cycle) is walked
    without recursion; a space in a parent cycle comes after the others.
    """
    children: dict[str | None, list[str]] = {
        None: [space_id for space_id in spaces if _is_top(spaces, space_id)]
    }
    children.update(children_of(spaces))
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


def space_path(
    spaces: Mapping[str, Space], space_id: str, separator: str = PATH_SEPARATOR
) -> str:
    """Return a space's names from the top down ("HQ > First floor > Room 1").

    Names repeat (every floor has its "Room 1"): the path tells them apart.
    """
    names: list[str] = []
    seen: set[str] = set()
    current: str | None = space_id
    while current is not None and current in spaces and current not in seen:
        seen.add(current)
        names.append(spaces[current].name)
        current = spaces[current].parent_id
    return separator.join(reversed(names))
