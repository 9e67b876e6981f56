"""The project's shape: settings documented, enrollment independent of monitor, a fast --help."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
import time
from pathlib import Path

from monitor.config import DEFAULT_CONFIG_PATH, SECTIONS, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_declared_once_and_commented_in_default_toml():
    lines = DEFAULT_CONFIG_PATH.read_text().splitlines()
    for section, cls in SECTIONS.items():
        assert f"[{section}]" in lines
        for field in dataclasses.fields(cls):
            [index] = [i for i, line in enumerate(lines) if line.startswith(f"{field.name} = ")
                       and _section_of(lines, i) == section]
            block = []  # the lines above it up to a blank line: comments and the settings they describe
            for line in reversed(lines[:index]):
                if not line.strip() or line.startswith("["):
                    break
                block.append(line)
            assert any(line.startswith("#") for line in block), f"{section}.{field.name} has no comment above it"
    load_config(ROOT / "no-such-home")  # every section builds


def _section_of(lines: list[str], index: int) -> str:
    return next(line.strip("[]") for line in reversed(lines[:index]) if line.startswith("["))


def test_enrollment_never_imports_monitor():
    for path in (ROOT / "enrollment").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(name.split(".")[0] == "monitor" for name in names), f"{path} imports monitor"


def test_help_answers_fast_without_loading_torch_or_dlib():
    code = "import sys; from monitor.cli import cli; print(sorted(m for m in ('torch', 'dlib', 'librosa', 'av', " \
           "'sqlalchemy', 'yt_dlp') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.strip() == "[]"
    started = time.perf_counter()
    result = subprocess.run([str(Path(sys.executable).parent / "likeness"), "--help"], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0 and "scan" in result.stdout
    assert time.perf_counter() - started < 5  # generous: --help takes about 0.15 s here


def test_init_creates_the_home_and_can_run_again(likeness, home):
    first = likeness("init", "--json")
    assert first.exit_code == 0, first.stderr
    assert (home / "likeness.db").exists() or "postgresql" in first.json["database"]
    assert (home / "config.toml").exists() and (home / "store").is_dir()
    assert likeness("init").exit_code == 0
