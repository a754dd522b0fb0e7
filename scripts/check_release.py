"""Refuse a release whose tag, manifest version and newest CHANGELOG entry differ.

The one place of the release rule, used by ``scripts/release`` and by the release
workflow (``.github/workflows/release.yaml``)::

    python3 scripts/check_release.py           # the manifest and the CHANGELOG agree
    python3 scripts/check_release.py v0.3.1    # ... and the tag v0.3.1 is theirs
    python3 scripts/check_release.py --notes   # print the newest CHANGELOG entry

A version is ``MAJOR.MINOR.PATCH`` (``0.3.1``), the ``version`` of
``custom_components/space_occupancy/manifest.json``; the newest CHANGELOG heading
reads ``## 0.3.1 — 2026-12-06`` (the release date, ISO); the tag is ``v0.3.1``.
Standard library only: it runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
import json
from pathlib import Path
import re
import sys

REPO = Path(__file__).resolve().parent.parent
MANIFEST = Path("custom_components/space_occupancy/manifest.json")
CHANGELOG = Path("CHANGELOG.md")
VERSION = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
ENTRY_HEADING = re.compile(r"^## (?P<version>\S+) — (?P<date>\S+)$")
TAG_PREFIX = "v"


class ReleaseError(ValueError):
    """The manifest or the CHANGELOG cannot be read as the release rule wants."""


@dataclass(frozen=True)
class Entry:
    """The newest CHANGELOG entry: its version, release date and text."""

    version: str
    released: date
    notes: str


def manifest_version(root: Path = REPO) -> str:
    """Return the manifest's ``version``."""
    manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    version = manifest.get("version")
    if not isinstance(version, str):
        raise ReleaseError(f"{MANIFEST} has no version")
    return version


def newest_entry(root: Path = REPO) -> Entry:
    """Return the CHANGELOG's first ``## `` entry, which must be the newest."""
    lines = (root / CHANGELOG).read_text(encoding="utf-8").splitlines()
    starts = [number for number, line in enumerate(lines) if line.startswith("## ")]
    if not starts:
        raise ReleaseError(f"{CHANGELOG} has no '## ' entry")
    heading = lines[starts[0]]
    if (match := ENTRY_HEADING.match(heading)) is None:
        raise ReleaseError(
            f"{CHANGELOG}: {heading!r} is not '## <version> — <YYYY-MM-DD>'"
        )
    try:
        released = date.fromisoformat(match["date"])
    except ValueError as err:
        raise ReleaseError(f"{CHANGELOG}: {heading!r} has no valid date") from err
    end = starts[1] if len(starts) > 1 else len(lines)
    notes = "\n".join(lines[starts[0] + 1 : end]).strip() + "\n"
    return Entry(match["version"], released, notes)


def problems(tag: str | None = None, root: Path = REPO) -> list[str]:
    """Return why a release of ``root`` (tagged ``tag``) must not happen; [] if none."""
    try:
        version = manifest_version(root)
        entry = newest_entry(root)
    except (OSError, ValueError) as err:  # ReleaseError, and a broken JSON
        return [str(err)]
    found = []
    if not VERSION.fullmatch(version):
        found.append(f"{MANIFEST}: version {version!r} is not MAJOR.MINOR.PATCH")
    if entry.version != version:
        found.append(
            f"{CHANGELOG}: the newest entry is {entry.version}, "
            f"the manifest says {version}"
        )
    if tag is not None and tag != TAG_PREFIX + version:
        found.append(
            f"tag {tag!r} is not {TAG_PREFIX + version!r} (the manifest's version)"
        )
    return found


def main(argv: Sequence[str] | None = None, root: Path = REPO) -> int:
    """Check the release (or print its notes); return the exit status."""
    parser = argparse.ArgumentParser(prog="scripts/check_release.py")
    parser.add_argument("tag", nargs="?", help="the tag to release, v<version>")
    parser.add_argument(
        "--notes", action="store_true", help="print the newest CHANGELOG entry"
    )
    args = parser.parse_args(argv)
    if found := problems(args.tag, root):
        print("Not releasable:\n  " + "\n  ".join(found), file=sys.stderr)
        return 1
    if args.notes:
        print(newest_entry(root).notes, end="")
    else:
        tag = f"tag {args.tag}, " if args.tag else ""
        print(f"Release {manifest_version(root)}: {tag}manifest and CHANGELOG agree.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
