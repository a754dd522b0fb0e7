"""Releases: the rule for a release's version, the zip HACS installs, and that zip at work.

``scripts/check_release.py`` is the rule (the tag, the manifest version and the newest
CHANGELOG heading agree); ``scripts/release`` checks it and builds the zip. The last
test builds the zip with ``scripts/release``, unpacks it into a fresh Home Assistant
configuration directory's ``custom_components/space_occupancy/`` as HACS does, and
sets up an entry per provider from it in a real ``hass`` process against the
simulator (as ``test_e2e_hass.py`` does with the checkout linked in instead).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
import json
import os
from pathlib import Path
import subprocess
import sys
import zipfile

import aiohttp
import pytest

from scripts import check_release, hass_bootstrap as hb, release

from .conftest import SimulatorServer
from .simulator import butlr, concordia, occuspace

REPO = Path(__file__).parent.parent
RELEASE_SCRIPT = REPO / "scripts" / "release"
START_WITHIN = 180.0

# The older entry every fake CHANGELOG has below its newest.
OLDER_ENTRY = "## 1.2.2 — 2026-11-01\n\n### Fixed\n- Older.\n"


def fake_repo(
    root: Path, version: str = "1.2.3", heading: str = "## 1.2.3 — 2026-12-01"
) -> Path:
    """Write a manifest and a CHANGELOG (newest entry under ``heading``) in ``root``."""
    manifest = root / check_release.MANIFEST
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"domain": "space_occupancy", "version": version}))
    (root / check_release.CHANGELOG).write_text(
        f"# Changelog\n\nHow releases are cut.\n\n{heading}\n\n### Added\n- New.\n\n"
        + OLDER_ENTRY,
        encoding="utf-8",
    )
    return root


# --- The rule -------------------------------------------------------------------


def test_this_repository_is_releasable_under_its_tag() -> None:
    """The manifest and the newest CHANGELOG entry agree, and v<version> is the tag."""
    version = check_release.manifest_version()
    assert check_release.problems() == []
    assert check_release.problems(f"v{version}") == []
    assert check_release.newest_entry().version == version


@pytest.mark.parametrize(
    ("tag", "found"),
    [
        ("v1.2.3", []),
        ("1.2.3", ["tag '1.2.3' is not 'v1.2.3' (the manifest's version)"]),
        ("v1.2.4", ["tag 'v1.2.4' is not 'v1.2.3' (the manifest's version)"]),
        ("v1.2.3-rc1", ["tag 'v1.2.3-rc1' is not 'v1.2.3' (the manifest's version)"]),
    ],
)
def test_a_tag_must_be_v_and_the_manifest_version(
    tmp_path: Path, tag: str, found: list[str]
) -> None:
    assert check_release.problems(tag, fake_repo(tmp_path)) == found


def test_the_changelog_must_have_the_manifest_version_on_top(tmp_path: Path) -> None:
    """A version bumped in the manifest only (or the CHANGELOG only) is refused."""
    root = fake_repo(tmp_path, version="1.3.0")
    assert check_release.problems("v1.3.0", root) == [
        "CHANGELOG.md: the newest entry is 1.2.3, the manifest says 1.3.0"
    ]
    assert check_release.problems("v1.2.3", root) == [
        "CHANGELOG.md: the newest entry is 1.2.3, the manifest says 1.3.0",
        "tag 'v1.2.3' is not 'v1.3.0' (the manifest's version)",
    ]


@pytest.mark.parametrize("version", ["1.2", "01.2.3", "1.2.3b1", "v1.2.3"])
def test_a_version_is_major_minor_patch(tmp_path: Path, version: str) -> None:
    root = fake_repo(tmp_path, version=version, heading=f"## {version} — 2026-12-01")
    manifest = "custom_components/space_occupancy/manifest.json"
    assert check_release.problems(f"v{version}", root) == [
        f"{manifest}: version {version!r} is not MAJOR.MINOR.PATCH"
    ]


@pytest.mark.parametrize(
    ("heading", "message"),
    [
        ("## 1.2.3", "is not '## <version> — <YYYY-MM-DD>'"),
        ("## 1.2.3 - 2026-12-01", "is not '## <version> — <YYYY-MM-DD>'"),
        ("## Unreleased", "is not '## <version> — <YYYY-MM-DD>'"),
        ("## 1.2.3 — 2026-13-01", "has no valid date"),
        ("## 1.2.3 — soon", "has no valid date"),
    ],
)
def test_the_newest_heading_has_version_and_date(
    tmp_path: Path, heading: str, message: str
) -> None:
    found = check_release.problems("v1.2.3", fake_repo(tmp_path, heading=heading))
    assert len(found) == 1
    assert found[0].startswith(f"CHANGELOG.md: {heading!r} ")
    assert found[0].endswith(message)


def test_unreadable_manifest_or_changelog(tmp_path: Path) -> None:
    root = fake_repo(tmp_path)
    (root / check_release.CHANGELOG).write_text("# Changelog\n", encoding="utf-8")
    assert check_release.problems(None, root) == ["CHANGELOG.md has no '## ' entry"]
    (root / check_release.MANIFEST).write_text('{"domain": "space_occupancy"}')
    assert check_release.problems(None, root) == [
        "custom_components/space_occupancy/manifest.json has no version"
    ]
    (root / check_release.MANIFEST).write_text("{")
    assert len(check_release.problems(None, root)) == 1
    (root / check_release.MANIFEST).unlink()
    assert len(check_release.problems(None, root)) == 1


def test_newest_entry_and_notes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The release notes are the newest entry's text, up to the next entry."""
    root = fake_repo(tmp_path)
    assert check_release.newest_entry(root) == check_release.Entry(
        "1.2.3", date(2026, 12, 1), "### Added\n- New.\n"
    )
    assert check_release.main(["--notes"], root) == 0
    assert capsys.readouterr().out == "### Added\n- New.\n"
    # The only entry runs to the end of the file.
    (root / check_release.CHANGELOG).write_text(OLDER_ENTRY, encoding="utf-8")
    assert check_release.newest_entry(root).notes == "### Fixed\n- Older.\n"


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = fake_repo(tmp_path)
    assert check_release.main(["v1.2.3"], root) == 0
    assert capsys.readouterr().out == (
        "Release 1.2.3: tag v1.2.3, manifest and CHANGELOG agree.\n"
    )
    assert check_release.main([], root) == 0
    assert capsys.readouterr().out == "Release 1.2.3: manifest and CHANGELOG agree.\n"
    assert check_release.main(["v1.2.4", "--notes"], root) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "Not releasable:\n  tag 'v1.2.4' is not 'v1.2.3' (the manifest's version)\n"
    )


# --- The zip --------------------------------------------------------------------


def run_release(*args: str, out: Path) -> subprocess.CompletedProcess[str]:
    """Run scripts/release, the maintainers' and the workflow's command."""
    return subprocess.run(  # noqa: S603 - the project's own script
        [str(RELEASE_SCRIPT), "--out", str(out), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SPACE_OCCUPANCY_PYTHON": sys.executable},
        timeout=60,
    )


@pytest.fixture
def release_zip(tmp_path: Path) -> Path:
    """The zip scripts/release builds for this checkout's tag."""
    tag = f"v{check_release.manifest_version()}"
    result = run_release(tag, out=tmp_path / "dist")
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path == tmp_path / "dist" / "space_occupancy.zip"
    return path


def test_zip_holds_the_integration_at_its_root(release_zip: Path) -> None:
    """HACS unpacks the zip into custom_components/space_occupancy/: no folder around."""
    hacs = json.loads((REPO / "hacs.json").read_text(encoding="utf-8"))
    assert hacs["zip_release"] is True
    assert release_zip.name == hacs["filename"]
    with zipfile.ZipFile(release_zip) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        dates = {info.date_time for info in archive.infolist()}
    assert names == [
        path.as_posix() for path in release.integration_files(release.INTEGRATION)
    ]
    assert {"__init__.py", "translations/en.json", "brand/icon.png"} <= set(names)
    assert "providers/py.typed" in names
    assert not [
        name for name in names if "__pycache__" in name or name.endswith(".pyc")
    ]
    assert manifest["version"] == check_release.manifest_version()
    released = check_release.newest_entry().released
    assert dates == {(released.year, released.month, released.day, 0, 0, 0)}


def test_a_wrong_tag_builds_nothing(tmp_path: Path) -> None:
    result = run_release("v0.0.0", out=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Not releasable:\n  tag 'v0.0.0' is not" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_build_leaves_caches_out_and_is_reproducible(tmp_path: Path) -> None:
    source = tmp_path / "space_occupancy"
    (source / "providers" / "__pycache__").mkdir(parents=True)
    (source / "manifest.json").write_text("{}")
    (source / "providers" / "client.py").write_text("x = 1\n")
    (source / "providers" / "__pycache__" / "client.cpython-313.pyc").write_bytes(b"0")
    (source / "stray.pyc").write_bytes(b"0")
    (source / ".DS_Store").write_bytes(b"0")
    first, second = tmp_path / "a" / "x.zip", tmp_path / "b" / "x.zip"
    names = release.build_zip(source, first, date(2026, 12, 6))
    assert names == ["manifest.json", "providers/client.py"]
    release.build_zip(source, second, date(2026, 12, 6))
    assert first.read_bytes() == second.read_bytes()
    assert not list(first.parent.glob("*.partial"))


def test_zip_name_needs_hacs_zip_release(tmp_path: Path) -> None:
    hacs = tmp_path / "hacs.json"
    hacs.write_text('{"name": "Space Occupancy", "filename": "space_occupancy.zip"}')
    with pytest.raises(check_release.ReleaseError, match="zip_release true"):
        release.zip_name(hacs)
    hacs.write_text('{"zip_release": true, "filename": "space_occupancy"}')
    with pytest.raises(check_release.ReleaseError, match=r"ending in \.zip"):
        release.zip_name(hacs)
    hacs.write_text('{"zip_release": true, "filename": "space_occupancy.zip"}')
    assert release.zip_name(hacs) == "space_occupancy.zip"


# --- The zip installed ----------------------------------------------------------


@dataclass
class HassFromZip:
    """A Home Assistant process whose integration is the unpacked release zip."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    installed: Path

    def alive(self) -> bool:
        """Tell whether the process still runs."""
        return self.process.poll() is None


@pytest.fixture
def hass_from_zip(
    simulator: SimulatorServer, release_zip: Path, tmp_path: Path
) -> Iterator[HassFromZip]:
    """Home Assistant with the release zip unpacked into its custom_components."""
    config_dir = tmp_path / "config"
    installed = config_dir / "custom_components" / hb.DOMAIN
    with zipfile.ZipFile(release_zip) as archive:
        archive.extractall(installed)  # what HACS does with the release asset
    port = hb.free_port()
    hb.prepare_config_dir(
        config_dir,
        hb.HassConfig(port=port, frontend_stub=True, link_integration=False),
    )
    log = tmp_path / "hass.log"
    # Bytecode written next to the modules Python imported shows where they came from.
    process = hb.start_hass(config_dir, log, env={"PYTHONDONTWRITEBYTECODE": ""})
    try:
        yield HassFromZip(process, f"http://127.0.0.1:{port}", log, installed)
    finally:
        hb.stop_process(process, timeout=30)


# An occupancy per provider, from the simulator's seeds.
FROM_ZIP = {
    "sensor.meeting_room_occupancy": "3",
    "sensor.office_building_occupancy": "100",
    "sensor.webster_library_occupancy": "367",
}


async def test_release_zip_installs_and_runs(
    simulator: SimulatorServer, hass_from_zip: HassFromZip
) -> None:
    """The unpacked zip loads, and an entry per provider set up from it counts people."""
    now = datetime.now(UTC)
    simulator.butlr = butlr.demo_scenario(now)
    simulator.occuspace = occuspace.seed_scenario()
    simulator.concordia = concordia.seed_scenario(now)
    owner = hb.Owner(name="Tester", username="tester", password="zip-password")
    async with aiohttp.ClientSession() as session:
        client = hb.HassClient(session, hass_from_zip.url)
        try:
            await hb.wait_until_up(
                client, within=START_WITHIN, alive=hass_from_zip.alive
            )
            await hb.onboard(client, owner)
            await hb.wait_until_running(client)
            specs = hb.simulator_entries(simulator.base_url)
            outcomes = [await hb.add_entry(client, spec) for spec in specs]
            states = await hb.wait_for_states(client, list(FROM_ZIP), within=60)
            entries = await client.request(
                "GET", f"/api/config/config_entries/entry?domain={hb.DOMAIN}"
            )
            manifest = await client.websocket_command(
                {"type": "manifest/get", "integration": hb.DOMAIN}
            )
        except hb.BootstrapError as err:
            pytest.fail(
                f"{err}\n--- Home Assistant's log ---\n{hb.log_tail(hass_from_zip.log)}"
            )

    assert [outcome.kind for outcome in outcomes] == ["created"] * 3
    assert [entry["state"] for entry in entries] == ["loaded"] * 3
    assert {entity_id: states[entity_id]["state"] for entity_id in FROM_ZIP} == FROM_ZIP
    assert manifest["version"] == check_release.manifest_version()
    assert manifest["is_built_in"] is False
    # The modules that ran are the zip's: Python compiled them where it was unpacked.
    assert not hass_from_zip.installed.is_symlink()
    compiled = {
        path.name.split(".")[0] for path in hass_from_zip.installed.rglob("*.pyc")
    }
    assert {
        "__init__",
        "coordinator",
        "sensor",
        "butlr",
        "occuspace",
        "concordia",
    } <= compiled


def test_release_workflow_runs_the_rule_the_checks_and_scripts_release() -> None:
    """On a v* tag: the rule, then .ci/run, then scripts/release and the release."""
    import yaml

    text = (REPO / ".github" / "workflows" / "release.yaml").read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    assert workflow[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads `on` as true
    jobs = workflow["jobs"]
    runs = {
        name: [step.get("run", "") for step in job["steps"]]
        for name, job in jobs.items()
    }
    assert 'python3 scripts/check_release.py "$GITHUB_REF_NAME"' in runs["version"]
    assert jobs["checks"]["needs"] == "version"
    assert ".ci/run" in runs["checks"]
    assert jobs["release"]["needs"] == "checks"
    assert 'zip=$(scripts/release "$GITHUB_REF_NAME")' in runs["release"][1]
    assert runs["release"][-1].startswith('gh release create "$GITHUB_REF_NAME" "$ZIP"')
