"""Fail unless every module is above 95 % covered and the config flow 100 %."""

from __future__ import annotations

import json
from pathlib import Path
import sys

MODULE_FLOOR = 95.0
FULL_COVERAGE = ("custom_components/space_occupancy/config_flow.py",)


def main(report_path: str) -> int:
    """Check the JSON coverage report written by pytest-cov."""
    files = json.loads(Path(report_path).read_text(encoding="utf-8"))["files"]
    failures = []
    for name, data in sorted(files.items()):
        covered = data["summary"]["percent_covered"]
        if name in FULL_COVERAGE and covered < 100.0:
            failures.append(f"{name}: {covered:.2f} % (needs 100 %)")
        elif covered <= MODULE_FLOOR:
            failures.append(f"{name}: {covered:.2f} % (needs > {MODULE_FLOOR:.0f} %)")
    failures.extend(
        f"{name}: not measured" for name in FULL_COVERAGE if name not in files
    )
    if failures:
        print("Coverage below the floor:\n  " + "\n  ".join(failures))
        return 1
    print(f"Coverage floors met for {len(files)} modules.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
