"""What HACS and Home Assistant read from the repository itself."""

from __future__ import annotations

import json
from pathlib import Path
import re

from PIL import Image

ROOT = Path(__file__).parent.parent
INTEGRATION = ROOT / "custom_components" / "space_occupancy"


def _json(path: Path) -> dict[str, object]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_manifest() -> None:
    """Domain and name first, the other keys sorted, as hassfest wants."""
    manifest = _json(INTEGRATION / "manifest.json")
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["domain"] == "space_occupancy"
    assert manifest["config_flow"] is True
    assert manifest["iot_class"] == "cloud_polling"
    # An account that brings many spaces, each a device: a hub in HA's terms.
    assert manifest["integration_type"] == "hub"
    assert manifest["requirements"] == []


def test_hacs_and_changelog_match_the_manifest() -> None:
    """HACS's minimum Home Assistant, and the changelog's newest version."""
    assert _json(ROOT / "hacs.json")["homeassistant"] == "2025.4.0"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    newest = re.search(r"^## (\S+)", changelog, re.MULTILINE)
    assert newest is not None
    assert newest.group(1) == _json(INTEGRATION / "manifest.json")["version"]


def test_brand_images() -> None:
    """The brand images HACS and Home Assistant show, at their sizes."""
    with Image.open(INTEGRATION / "brand" / "icon.png") as icon:
        assert icon.size == (256, 256)
    with Image.open(INTEGRATION / "brand" / "icon@2x.png") as icon:
        assert icon.size == (512, 512)
    with Image.open(INTEGRATION / "brand" / "logo.png") as logo:
        assert logo.size[1] == 256


def test_quality_scale_lists_every_rule() -> None:
    """Every rule up to Platinum has a status; an exemption says why."""
    import yaml

    rules = yaml.safe_load(
        (INTEGRATION / "quality_scale.yaml").read_text(encoding="utf-8")
    )["rules"]
    assert len(rules) == 52
    for rule, status in rules.items():
        if isinstance(status, dict):
            assert status["status"] in ("done", "exempt"), rule
            assert status["comment"], rule
        else:
            assert status == "done", rule
