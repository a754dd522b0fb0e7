"""Every text and icon the code refers to exists, and en.json is strings.json."""

from __future__ import annotations

import json
from pathlib import Path
import re

import yaml

from custom_components.space_occupancy import binary_sensor, sensor
from custom_components.space_occupancy.const import SERVICE_IMPORT_HISTORY
from custom_components.space_occupancy.services import IMPORT_HISTORY_SCHEMA
from custom_components.space_occupancy.state import (
    ACTIVITY_GRADED,
    ACTIVITY_UNGRADED,
    VERSUS_USUAL,
)

INTEGRATION = Path(sensor.__file__).parent
STRINGS = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))
ICONS = json.loads((INTEGRATION / "icons.json").read_text(encoding="utf-8"))
CODE = "\n".join(path.read_text(encoding="utf-8") for path in INTEGRATION.glob("*.py"))


def test_english_translation_is_strings_json() -> None:
    """translations/en.json is what Home Assistant shows: it must match strings.json."""
    english = json.loads(
        (INTEGRATION / "translations" / "en.json").read_text(encoding="utf-8")
    )
    assert english == STRINGS


def _texts(node: object) -> list[str]:
    """Every string in a translation tree."""
    if isinstance(node, dict):
        return [text for value in node.values() for text in _texts(value)]
    return [node] if isinstance(node, str) else []


def test_shipped_translations_are_resolved() -> None:
    """No shipped text is a ``[%key:…]`` reference.

    Home Assistant resolves those only when it builds core integrations'
    translations: in a custom integration the user would read the raw key.
    """
    for path in [INTEGRATION / "strings.json", *INTEGRATION.glob("translations/*")]:
        texts = _texts(json.loads(path.read_text(encoding="utf-8")))
        assert texts
        assert [text for text in texts if "[%key" in text] == [], path.name


def test_entities_have_names_icons_and_states() -> None:
    """Every entity's translation key has a name and an icon; activity has every state."""
    for platform, descriptions in (
        ("sensor", sensor.SENSORS),
        ("binary_sensor", binary_sensor.BINARY_SENSORS),
    ):
        for description in descriptions:
            key = description.translation_key
            assert STRINGS["entity"][platform][key]["name"]
            assert ICONS["entity"][platform][key]["default"].startswith("mdi:")
    states = set(ACTIVITY_GRADED) | set(ACTIVITY_UNGRADED)
    assert set(STRINGS["entity"]["sensor"]["activity"]["state"]) == states
    assert set(ICONS["entity"]["sensor"]["activity"]["state"]) == states
    assert set(STRINGS["entity"]["sensor"]["versus_usual"]["state"]) == set(
        VERSUS_USUAL
    )
    assert set(ICONS["entity"]["sensor"]["versus_usual"]["state"]) == set(VERSUS_USUAL)


def test_actions_have_fields_texts_and_icons() -> None:
    """What hassfest checks of actions: services.yaml, its texts, its icons, its schema."""
    actions = yaml.safe_load((INTEGRATION / "services.yaml").read_text("utf-8"))
    assert set(actions) == {SERVICE_IMPORT_HISTORY}
    for action, definition in actions.items():
        texts = STRINGS["services"][action]
        assert texts["name"]
        assert texts["description"]
        assert set(texts["fields"]) == set(definition["fields"])
        assert all(field["name"] for field in texts["fields"].values())
        assert ICONS["services"][action]["service"].startswith("mdi:")
    # The schema takes exactly the fields services.yaml describes.
    schema_fields = {str(key) for key in IMPORT_HISTORY_SCHEMA.schema}
    assert schema_fields == set(actions[SERVICE_IMPORT_HISTORY]["fields"])


def test_exception_and_issue_keys_are_translated() -> None:
    """Each translation_key raised or used for an issue in the code has a text."""
    keys = set(
        re.findall(r'translation_domain=DOMAIN,\s*translation_key="(\w+)"', CODE)
    )
    issues = {"concordia_quota", "rate_limited"}
    assert keys, "no translation keys found in the code"
    assert keys <= set(STRINGS["exceptions"])
    assert issues <= set(STRINGS["issues"])
    # Placeholders used in the texts are the ones the code passes.
    for key, text in STRINGS["exceptions"].items():
        for placeholder in re.findall(r"{(\w+)}", text["message"]):
            assert f'"{placeholder}"' in CODE, (key, placeholder)


def test_no_hard_coded_icons() -> None:
    """Icons come from icons.json only."""
    assert "_attr_icon" not in CODE
    assert "icon=" not in CODE
