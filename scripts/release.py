"""Build the zip HACS installs from a release: ``scripts/release [--out DIR] [TAG]``.

First the release rule (``scripts/check_release.py``): the manifest version and the
newest CHANGELOG entry agree, and so does ``TAG`` when given. Then it writes
``DIR/<hacs.json filename>`` (``dist/space_occupancy.zip``) and prints its path.

The zip holds the files of ``custom_components/space_occupancy/`` at its root (no
folder around them): HACS unpacks it into ``custom_components/space_occupancy/``.
Caches (``__pycache__``, ``*.pyc``) and hidden files stay out. The same sources give
the same bytes: entries in path order, each dated with the release's CHANGELOG date.
Standard library only.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from datetime import date
import json
from pathlib import Path
import sys
import zipfile

from scripts import check_release

REPO = check_release.REPO
INTEGRATION = REPO / "custom_components" / "space_occupancy"
HACS_JSON = REPO / "hacs.json"


def zip_name(hacs_json: Path = HACS_JSON) -> str:
    """Return the zip's name: hacs.json's ``filename``, where HACS looks for it."""
    hacs = json.loads(hacs_json.read_text(encoding="utf-8"))
    name = str(hacs.get("filename", ""))
    if hacs.get("zip_release") is not True or not name.endswith(".zip"):
        raise check_release.ReleaseError(
            f"{hacs_json.name} needs zip_release true and a filename ending in .zip"
        )
    return name


def integration_files(source: Path) -> Iterator[Path]:
    """Yield the files to ship, relative to ``source``, in path order."""
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_dir() or any(
            part.startswith(".") or part == "__pycache__" for part in relative.parts
        ):
            continue
        if path.suffix in (".pyc", ".pyo"):
            continue
        yield relative


def build_zip(source: Path, target: Path, released: date) -> list[str]:
    """Write ``target`` with the files of ``source`` at its root; return their names."""
    names = []
    stamp = (released.year, released.month, released.day, 0, 0, 0)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for relative in integration_files(source):
            info = zipfile.ZipInfo(relative.as_posix(), date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (source / relative).read_bytes(), compresslevel=9)
            names.append(info.filename)
    partial.replace(target)
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """Check the release, build its zip and print the zip's path."""
    parser = argparse.ArgumentParser(prog="scripts/release")
    parser.add_argument("tag", nargs="?", help="the tag to release, v<version>")
    parser.add_argument(
        "--out", type=Path, default=REPO / "dist", help="where to write the zip"
    )
    args = parser.parse_args(argv)
    found = check_release.problems(args.tag)
    try:
        name = zip_name()
    except (OSError, ValueError) as err:
        found.append(str(err))
        name = ""
    if found:
        print("Not releasable:\n  " + "\n  ".join(found), file=sys.stderr)
        return 1
    target = args.out.resolve() / name
    names = build_zip(INTEGRATION, target, check_release.newest_entry().released)
    print(f"{len(names)} files of {INTEGRATION.relative_to(REPO)}", file=sys.stderr)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
