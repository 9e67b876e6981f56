"""The docs are part of the contract: what a user can type, read back or set is documented, and nothing else.

- docs/cli.md has a section for every command of ``likeness`` (walked from the click group), naming each
  of its arguments, options and choices;
- docs/cli.md names every field of every JSON object the CLI prints: the fields are taken from the code
  that builds them and from real ``--json`` output of commands run in a temporary home;
- docs/configuration.md names every setting of config/default.toml as ``section.name``;
- the README is short and links to every page of docs/; no page says how the project was made;
- the site builds with ``mkdocs build --strict``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click
import numpy as np
import pytest

from monitor.cli import cli
from monitor.config import DEFAULT_CONFIG_PATH, SECTIONS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
CHANGELOG = ROOT / "CHANGELOG.md"
README_MAX_LINES = 150
# Words of how the project was made: they belong nowhere in the docs (changes go to CHANGELOG.md).
MAKING_OF = re.compile(r"\bsessions?\b|\bissue |\bprevious run\b|\bthis run\b|\blab\b", re.IGNORECASE)


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command under ``command`` with its path of names, depth first; groups included."""
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, (*path, name))


LEAF_COMMANDS = {" ".join(path): command for path, command in _commands(cli) if not isinstance(command, click.Group)}


def _cli_md() -> str:
    return (DOCS / "cli.md").read_text()


def _section(text: str, command: str) -> str:
    """The part of cli.md under the heading that names ``likeness COMMAND``, up to the next heading."""
    sections = re.split(r"(?m)^(?=#{1,6} )", text)
    found = [s for s in sections if re.match(rf"#{{1,6}} .*`likeness {re.escape(command)}`", s)]
    assert found, f"docs/cli.md has no heading for `likeness {command}`"
    return found[0]


def _names(text: str, word: str) -> bool:
    """``word`` appears in ``text`` as a whole token (not inside a longer option or name)."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def _options(command: click.Command) -> list[click.Option]:
    return [param for param in command.params if isinstance(param, click.Option) and "--help" not in param.opts]


# ----------------------------------------------------------------------------------------- commands


@pytest.mark.parametrize("name", sorted(LEAF_COMMANDS))
def test_every_command_has_a_section_naming_its_arguments_options_and_choices(name: str) -> None:
    """A heading `` `likeness NAME` `` in docs/cli.md, and under it every argument, option and choice."""
    section = _section(_cli_md(), name)
    command = LEAF_COMMANDS[name]
    missing = []
    for param in command.params:
        if isinstance(param, click.Argument):
            missing += [] if _names(section, param.human_readable_name.rstrip(".")) else [param.human_readable_name]
        elif isinstance(param, click.Option) and "--help" not in param.opts:
            missing += [opt for opt in (*param.opts, *param.secondary_opts) if not _names(section, opt)]
        if isinstance(param.type, click.Choice):
            missing += [f"{param.name}={choice}" for choice in param.type.choices if not _names(section, str(choice))]
    assert missing == [], f"`likeness {name}` in docs/cli.md lacks {missing}"


def test_the_global_options_are_documented() -> None:
    """``--home``, ``--version`` and ``-h``/``--help`` of the ``likeness`` group itself."""
    text = _cli_md()
    assert [opt for param in _options(cli) for opt in param.opts if not _names(text, opt)] == []
    assert _names(text, "-h") and _names(text, "--help")


def test_the_command_overview_lists_every_command() -> None:
    """The synopsis at the top of docs/cli.md has a line for every command."""
    overview = _cli_md().split("## All commands at a glance", 1)[1].split("\n## ", 1)[0]
    listed = set()
    for line in overview.splitlines():  # `likeness source remove|pause|resume SOURCE_ID` lists three commands
        if found := re.match(r"likeness (?:\[--home DIR\] )?([a-z]+)(?: ([a-z|]+)\b)?", line.strip()):
            group, names = found.groups()
            listed |= {f"{group} {name}" for name in (names or "").split("|") if name} | {group}
    assert sorted(set(LEAF_COMMANDS) - listed) == []


# ----------------------------------------------------------------------------------------- settings


def _settings() -> set[str]:
    """Every setting as ``section.name``: from the code (monitor.config.SECTIONS) and from default.toml."""
    in_code = {f"{section}.{field.name}" for section, cls in SECTIONS.items() for field in dataclasses.fields(cls)}
    with open(DEFAULT_CONFIG_PATH, "rb") as stream:
        in_toml = {f"{section}.{name}" for section, values in tomllib.load(stream).items() for name in values}
    return in_code | in_toml


def test_every_setting_is_documented_with_its_section() -> None:
    """docs/configuration.md names each setting as `` `section.name` `` and has a heading per section."""
    text = (DOCS / "configuration.md").read_text()
    assert sorted(setting for setting in _settings() if f"`{setting}`" not in text) == []
    assert [section for section in SECTIONS if f"## `[{section}]`" not in text] == []


# ------------------------------------------------------------------------------------- JSON fields


def _keys(data: Any) -> set[str]:
    """Every key of every object inside ``data`` (lists and nested objects walked)."""
    if isinstance(data, dict):
        return set(data) | {key for value in data.values() for key in _keys(value)}
    if isinstance(data, list):
        return {key for value in data for key in _keys(value)}
    return set()


def _documented(text: str, field: str) -> bool:
    """A field is documented as a JSON key (``"field"``) or named in a field table (`` `field` ``)."""
    return f'"{field}"' in text or f"`{field}`" in text


def _from_code() -> dict[str, Any]:
    """The JSON the code builds, from its producers, on objects made here (no database, no models)."""
    from enrollment.service import EnrolResult
    from monitor.alerts.outbox import alert_json
    from monitor.alerts.sender import SendReport
    from monitor.analysis.credentials import summarise_manifest
    from monitor.evaluation.metrics import summarise
    from monitor.evaluation.run import EvalReport
    from monitor.matching.gallery import VOICE_TIERS, Calibration, Gallery, match_faces
    from monitor.matching.voice_scores import rank_among
    from monitor.pipeline.crawl import CrawlReport
    from monitor.pipeline.scan import ScanRow
    from monitor.storage.detections import detection_json

    face = np.ones((1, 128), np.float32) / np.sqrt(128)
    gallery = Gallery({1: "Ada"}, np.zeros(0, np.int64), np.zeros((0, 256), np.float32), np.array([1]),
                      np.array([0]), face)
    found = match_faces(face, np.array([2.0]), gallery, Calibration(0.45, 25.0, 0.5), 1.0, 3)
    [match] = found.matches
    population = rank_among(0.9, np.array([0.1, 0.2, 0.95]))
    now = datetime.now(UTC)
    declared = summarise_manifest({"signature_info": {"common_name": "Maker", "issuer": "Maker Inc"},
                                     "claim_generator_info": [{"name": "Gen", "version": "1"}],
                                     "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [
                                         {"action": "c2pa.created", "softwareAgent": "Model 2",
                                          "digitalSourceType": "trainedAlgorithmicMedia"}]}}]}, "trusted", [])

    def detection(modality: str, details: dict) -> dict:
        media = SimpleNamespace(sha256="0" * 64, media_type="audio", duration_s=21.93, content_credentials=declared)
        return detection_json(SimpleNamespace(
            id=1, performer_id=1, performer=SimpleNamespace(name="Ada"), modality=modality, score=match.score,
            similarity=match.similarity, media=media, segments=match.segments, status="new", created_at=now,
            allowed_by_rule_id=None, reupload_of_id=None, details=details), "https://example.org/ad.mp3")

    delivery = SimpleNamespace(channel="email", recipient="ada@example.org", status="pending", attempts=1,
                               last_error="server down", next_attempt_at=now, sent_at=None)
    alert = SimpleNamespace(id=1, status="pending", performer_id=1, performer=SimpleNamespace(name="Ada"),
                            media_id=1, detection_id=1, created_at=now, deliveries=[delivery])
    return {
        "scan": ScanRow(source="x", content_credentials=declared).as_json() | {"closest": found.closest},
        "crawl": CrawlReport().as_json(),
        "voice detection": detection("voice", {"tier": VOICE_TIERS[0], "normalised_score": 5.0,
                                               "population": population}),
        "face detection": detection("face", {"population": population, "normalised_score": 2.0}),
        "alerts list": [alert_json(alert)],
        "alerts send": SendReport().as_json(),
        "enroll": [EnrolResult("a.wav", True, None, 6.0).as_json()],
        "eval": EvalReport(Path("d"), None).as_json() | {"results": [summarise(
            [0.9, 0.8], [0.1, 0.2], {"default": 0.5}).as_json()]},
    }


def _run(*args: str | Path) -> tuple[int, str, str]:
    """``likeness ARGS`` in this process: (exit status, stdout, stderr)."""
    from monitor.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(arg) for arg in args])
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def cli_json(tmp_path_factory, grace_hopper_path: Path, astronaut_path: Path) -> dict[str, Any]:
    """Real ``--json`` output of every command that can run here in a few seconds: a temporary home with
    a performer enrolled from a photo, the same photo scanned (a face detection, an alert, a bundle), a
    face cohort, a folder source crawled, and ``eval`` on photos without faces."""
    from PIL import Image

    work = tmp_path_factory.mktemp("docs-cli")
    blank = work / "eval" / "a" / "1.png"
    for path in (blank, work / "eval" / "a" / "2.png", work / "eval" / "b" / "1.png", work / "eval" / "b" / "2.png"):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 64), (120, 120, 120)).save(path)
    (work / "folder").mkdir()
    (work / "folder" / "bad.mp3").write_text("not audio")  # a crawl error: {"url", "reason"}
    (work / "junk.zip").write_bytes(b"not a zip")
    commands = {
        "init": ["init"],
        "performer add": ["performer", "add", "Grace", "--consent-by", "Grace", "--email", "grace@example.org"],
        "enroll face": ["enroll", "face", "1", grace_hopper_path],
        "enroll face refused": ["enroll", "face", "1", blank],
        "cohort add": ["cohort", "add", astronaut_path, blank],
        "cohort list": ["cohort", "list"],
        "scan": ["scan", grace_hopper_path],
        "performer list": ["performer", "list"],
        "detections list": ["detections", "list"],
        "detections review": ["detections", "review", "1", "confirmed", "--note", "a clone", "--by", "Legal"],
        "alerts list": ["alerts", "list"],
        "alerts send": ["alerts", "send"],
        "performer alerts": ["performer", "alerts", "1", "--voice-threshold", "0.8"],
        "performer mute": ["performer", "mute", "1"],
        "performer unmute": ["performer", "unmute", "1"],
        "evidence export": ["evidence", "export", "1", "-o", work / "bundle.zip"],
        "evidence verify": ["evidence", "verify", work / "bundle.zip"],
        "evidence verify refused": ["evidence", "verify", work / "junk.zip"],
        "source add": ["source", "add", work / "folder"],
        "source list": ["source", "list"],
        "crawl": ["crawl"],
        "eval": ["eval", work / "eval", "--plot-dir", work],
        "user add": ["user", "add", "grace@example.org", "--role", "artist", "--performer", "1"],
        "token create": ["token", "create", "--user", "grace@example.org", "--name", "phone"],
        "token list": ["token", "list"],
        "token revoke": ["token", "revoke", "1"],
        "audit list": ["audit", "list"],
        "agency add": ["agency", "add", "Voices"],
        "agency list": ["agency", "list"],
        "performer remove": ["performer", "remove", "1"],
    }
    outputs = {}
    with pytest.MonkeyPatch.context() as patch:
        for name in ("LIKENESS_HOME", "LIKENESS_DATABASE_URL", "LIKENESS_SMTP_HOST", "LIKENESS_ALERT_URLS"):
            patch.delenv(name, raising=False)
        patch.chdir(work)
        for name, args in commands.items():
            code, out, err = _run("--home", work / "home", *args, "--json")
            assert code in (0, 1) and out.strip(), f"likeness {name} --json: exit {code}, {err.strip()}"
            outputs[name] = json.loads(out)
    return outputs


def test_the_real_commands_gave_the_objects_the_docs_describe(cli_json: dict[str, Any]) -> None:
    """The temporary home really held what the field check relies on: a detection, an alert, a bundle."""
    assert cli_json["scan"][0]["detections"] and cli_json["scan"][0]["closest"]
    assert cli_json["alerts list"][0]["recipients"]
    assert cli_json["evidence verify"]["ok"] is True and cli_json["evidence verify refused"]["ok"] is False
    assert cli_json["eval"]["results"] and cli_json["enroll face refused"][0]["accepted"] is False
    assert cli_json["crawl"]["errors"] and cli_json["source list"][0]["kind"] == "folder"


def test_every_json_field_the_cli_prints_is_documented(cli_json: dict[str, Any]) -> None:
    """Every key of every object in the real ``--json`` output appears in docs/cli.md."""
    text = _cli_md()
    undocumented = {name: sorted(field for field in _keys(data) if not _documented(text, field))
                    for name, data in cli_json.items()}
    assert {name: fields for name, fields in undocumented.items() if fields} == {}


def test_every_json_field_the_code_builds_is_documented() -> None:
    """Every key the producers build (voice detections included, which need no models here) is in docs/cli.md."""
    text = _cli_md()
    undocumented = {name: sorted(field for field in _keys(data) if not _documented(text, field))
                    for name, data in _from_code().items()}
    assert {name: fields for name, fields in undocumented.items() if fields} == {}


def test_every_command_with_json_output_says_what_it_prints() -> None:
    """Each command's ``--json`` row in its options table says what is printed."""
    text = _cli_md()
    silent = [name for name, command in LEAF_COMMANDS.items()
              if any("--json" in param.opts for param in _options(command))
              and not re.search(r"`--json`\s*\|\s*print", _section(text, name))]
    assert silent == []


# ---------------------------------------------------------------------------------- README, history


def test_the_readme_is_short_and_links_to_every_page_of_the_docs() -> None:
    """At most 150 lines, the two commands, and a link to each page of docs/ (and none to a missing one)."""
    text = README.read_text()
    assert len(text.splitlines()) <= README_MAX_LINES
    linked = set(re.findall(r"\]\(docs/([\w/.-]+\.md)(?:#[\w-]+)?\)", text))
    pages = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    assert pages - linked == set(), "pages of docs/ the README does not link to"
    assert linked - pages == set(), "README links to pages that do not exist"
    assert "make demo" in text and "make test" in text


def test_no_page_says_how_the_project_was_made() -> None:
    """README, CHANGELOG and docs/ speak of the product, not of how it was made."""
    pages = [README, CHANGELOG, *sorted(DOCS.rglob("*.md"))]
    found = [f"{page.relative_to(ROOT)}:{number}: {match.group(0)!r}"
             for page in pages for number, line in enumerate(page.read_text().splitlines(), 1)
             for match in MAKING_OF.finditer(line)]
    assert found == []


def test_the_changelog_keeps_a_changelog() -> None:
    """Keep a Changelog 1.1.0: "Unreleased" first, then versions, with its kinds of change only."""
    text = CHANGELOG.read_text()
    assert "https://keepachangelog.com/en/1.1.0/" in text
    versions = re.findall(r"(?m)^## \[([^\]]+)\]", text)
    assert versions[0] == "Unreleased" and len(versions) >= 2
    headings = set(re.findall(r"(?m)^### (.+)$", text))
    assert headings <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


# ------------------------------------------------------------------------------------------- build


def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    """``mkdocs build --strict``: every page in the nav, no broken link or anchor, no warning."""
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip("mkdocs or mkdocs-material is not installed (make dev installs both)")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert built.returncode == 0, built.stderr[-3000:]
    assert (tmp_path / "site" / "cli" / "index.html").is_file()
