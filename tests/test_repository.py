"""What HACS and Home Assistant read from the repository itself."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from PIL import Image

from scripts import check_release

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
    """HACS's minimum Home Assistant and release zip; the changelog's newest version."""
    hacs = _json(ROOT / "hacs.json")
    assert hacs["homeassistant"] == "2025.4.0"
    # HACS downloads this asset of the release and unpacks it into
    # custom_components/space_occupancy/ (tests/test_release.py builds it).
    assert hacs["zip_release"] is True
    assert hacs["filename"] == "space_occupancy.zip"
    assert check_release.problems() == []


def test_brand_images() -> None:
    """The brand images HACS and Home Assistant show, at their sizes."""
    with Image.open(INTEGRATION / "brand" / "icon.png") as icon:
        assert icon.size == (256, 256)
    with Image.open(INTEGRATION / "brand" / "icon@2x.png") as icon:
        assert icon.size == (512, 512)
    with Image.open(INTEGRATION / "brand" / "logo.png") as logo:
        assert logo.size[1] == 256


# The integration quality scale's rules, by tier, as hassfest knows them in Home
# Assistant 2026.10 (docs-conditions and docs-triggers joined Bronze after 2025.4).
QUALITY_SCALE_RULES = {
    "bronze": {
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow",
        "config-flow-test-coverage",
        "dependency-transparency",
        "docs-actions",
        "docs-conditions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "docs-triggers",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
    },
    "silver": {
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
    },
    "gold": {
        "devices",
        "diagnostics",
        "discovery",
        "discovery-update-info",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
    },
    "platinum": {"async-dependency", "inject-websession", "strict-typing"},
}


def _core_quality_scale_rules() -> set[str]:
    """Return every rule the installed Home Assistant's own integrations list.

    hassfest (not in the wheel) makes each core quality_scale.yaml list the
    rules of its time: a rule a newer Home Assistant adds shows up here.
    """
    from homeassistant import components
    import yaml

    found: set[str] = set()
    for path in Path(components.__file__).parent.glob("*/quality_scale.yaml"):
        text = path.read_text(encoding="utf-8")
        found.update(yaml.load(text, Loader=yaml.CSafeLoader)["rules"])
    return found


def test_quality_scale_lists_every_rule() -> None:
    """Every rule up to Platinum, and no other, has a status; an exemption says why."""
    import yaml

    rules = yaml.safe_load(
        (INTEGRATION / "quality_scale.yaml").read_text(encoding="utf-8")
    )["rules"]
    every_rule = set().union(*QUALITY_SCALE_RULES.values())
    assert len(every_rule) == 54
    core_rules = _core_quality_scale_rules()
    assert "strict-typing" in core_rules  # the core files were read at all
    assert core_rules - every_rule == set()
    assert set(rules) == every_rule
    # Listed tier by tier, Bronze first, as under the file's tier comments.
    tiers = list(QUALITY_SCALE_RULES)
    listed = [
        next(tiers.index(tier) for tier in tiers if rule in QUALITY_SCALE_RULES[tier])
        for rule in rules
    ]
    assert listed == sorted(listed)
    for rule, status in rules.items():
        if isinstance(status, dict):
            assert status["status"] in ("done", "exempt"), rule
            assert status["comment"], rule
        else:
            assert status == "done", rule


def _modules() -> dict[str, ast.Module]:
    """The integration's modules by dotted name (relative to the package)."""
    return {
        ".".join(path.relative_to(INTEGRATION).with_suffix("").parts): ast.parse(
            path.read_text(encoding="utf-8")
        )
        for path in sorted(INTEGRATION.rglob("*.py"))
    }


def _resolve(parts: list[str], modules: dict[str, ast.Module]) -> str | None:
    """The module a dotted path names: a module, or a package's ``__init__``."""
    for name in (".".join(parts), ".".join([*parts, "__init__"])):
        if name in modules:
            return name
    return None


def _imports(name: str, modules: dict[str, ast.Module]) -> set[str]:
    """The integration's own modules a module imports (relative imports)."""
    package = name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(modules[name]):
        if not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        base = package[: len(package) - node.level + 1]
        module = [*base, *node.module.split(".")] if node.module else base
        candidates = [module, *([*module, alias.name] for alias in node.names)]
        found.update(
            target
            for parts in candidates
            if (target := _resolve(parts, modules)) is not None
        )
    return found - {name}


def test_no_function_is_longer_than_a_screen() -> None:
    """Functions fit on a screen (60 lines); the coordinator stays thin (200)."""
    long = [
        f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for name, tree in _modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > 60
    ]
    assert long == []
    lines = (INTEGRATION / "coordinator.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200


def test_no_import_cycle() -> None:
    """The integration's modules import each other without a cycle."""
    modules = _modules()
    graph = {name: _imports(name, modules) for name in modules}

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return [*path, nxt]
                if nxt not in path:
                    stack.append((nxt, [*path, nxt]))
        return None

    assert graph["coordinator"]  # the graph is read at all
    assert [cycle for name in graph if (cycle := cycle_from(name))] == []
