"""Every shipped language translates every text of strings.json, and only those.

A custom integration gets no help from Home Assistant's translation platform:
a key a language lacks shows in English (or as its raw key), a placeholder
lost in translation raises when the text is formatted. Each failure names the
language and the key, so that a new key of strings.json is easy to translate.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import re

from homeassistant.core import HomeAssistant
from homeassistant.helpers import translation
import pytest

import custom_components.space_occupancy as integration
from custom_components.space_occupancy.const import DOMAIN

INTEGRATION = Path(integration.__file__).parent
TRANSLATIONS = INTEGRATION / "translations"
STRINGS = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))
# Every language shipped besides English (en.json is strings.json itself,
# tests/test_translations.py checks that).
LANGUAGES = sorted(
    path.stem for path in TRANSLATIONS.glob("*.json") if path.stem != "en"
)
# The languages the README promises: dropping one of them must fail.
PROMISED = {"de", "fr"}
# A text this long that reads exactly as in English was not translated; a
# shorter one may be a name or a word both languages share ("Butlr", "Options").
UNTRANSLATED_LENGTH = 20
# Longer texts that may read as in English, by (language, key): none so far.
SAME_AS_ENGLISH: frozenset[tuple[str, str]] = frozenset()
PLACEHOLDER = re.compile(r"{(\w+)}")
# What a translation must keep as it is: a Markdown link's target, inline code.
KEPT = re.compile(r"\]\(([^)]*)\)|`([^`]*)`")


def _load(language: str) -> dict[str, object]:
    """Return a language's translation tree."""
    tree: dict[str, object] = json.loads(
        (TRANSLATIONS / f"{language}.json").read_text(encoding="utf-8")
    )
    return tree


def _leaves(node: object, path: str = "") -> Iterator[tuple[str, object]]:
    """Yield (dotted key, value) of every node that is not a JSON object."""
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaves(value, f"{path}.{key}" if path else key)
    else:
        yield path, node


ENGLISH = {key: str(text) for key, text in _leaves(STRINGS)}


def _texts(language: str) -> dict[str, str]:
    """Return a language's texts by dotted key (the shape test checks they are texts)."""
    return {key: str(text) for key, text in _leaves(_load(language))}


def test_promised_languages_are_shipped() -> None:
    """French and German are there (the README names them)."""
    assert set(LANGUAGES) >= PROMISED, f"shipped: {LANGUAGES}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_language_has_every_key_and_no_other(language: str) -> None:
    """The language's tree has the shape of strings.json: same keys, texts as texts."""
    texts = dict(_leaves(_load(language)))
    problems = [f"lacks {key}" for key in sorted(set(ENGLISH) - set(texts))]
    problems += [
        f"has {key}, which strings.json lacks"
        for key in sorted(set(texts) - set(ENGLISH))
    ]
    problems += [
        f"has no text at {key}"
        for key, value in sorted(texts.items())
        if not isinstance(value, str)
    ]
    assert not problems, f"{language}.json " + "; ".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_language_keeps_placeholders_and_links(language: str) -> None:
    """Each text has the placeholders, link targets and code of its English text."""
    wrong = []
    for key, text in _texts(language).items():
        english = ENGLISH.get(key)
        if english is None:
            continue  # the shape test names it
        if set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(english)):
            wrong.append(
                f"{key} has placeholders {sorted(set(PLACEHOLDER.findall(text)))}, "
                f"English {sorted(set(PLACEHOLDER.findall(english)))}"
            )
        if sorted(KEPT.findall(text)) != sorted(KEPT.findall(english)):
            wrong.append(f"{key} changes a link or code: {KEPT.findall(english)}")
    assert not wrong, f"{language}.json: " + "; ".join(wrong)


@pytest.mark.parametrize("language", LANGUAGES)
def test_language_texts_are_translated(language: str) -> None:
    """No text is empty, and none long enough to tell reads as its English text."""
    problems = []
    for key, text in sorted(_texts(language).items()):
        if not text.strip():
            problems.append(f"has an empty text at {key}")
        elif (
            text == ENGLISH.get(key)
            and len(text) > UNTRANSLATED_LENGTH
            and (language, key) not in SAME_AS_ENGLISH
        ):
            problems.append(f"still has the English text at {key}")
    assert not problems, f"{language}.json " + "; ".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_home_assistant_serves_the_language(
    hass: HomeAssistant, language: str
) -> None:
    """Home Assistant reads the file: the frontend gets its texts, not English."""
    expected = _texts(language)
    for category in STRINGS:
        served = await translation.async_get_translations(
            hass, language, category, {DOMAIN}
        )
        prefix = f"component.{DOMAIN}.{category}."
        got = {key.removeprefix(prefix): text for key, text in served.items()}
        want = {
            key.removeprefix(f"{category}."): text
            for key, text in expected.items()
            if key.startswith(f"{category}.")
        }
        assert got == want, f"{language}: {category}"
