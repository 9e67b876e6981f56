"""The project's shape: settings documented, enrollment independent of monitor, a fast --help."""

from __future__ import annotations

import ast
import dataclasses
import resource
import subprocess
import sys
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
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run([str(Path(sys.executable).parent / "likeness"), "--help"], capture_output=True,
                            text=True, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert result.returncode == 0 and "scan" in result.stdout
    # its CPU time, which a loaded machine does not stretch as it does the wall clock; generous: about 0.15 s here
    assert (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) < 5


def test_init_creates_the_home_and_can_run_again(likeness, home):
    first = likeness("init", "--json")
    assert first.exit_code == 0, first.stderr
    assert (home / "likeness.db").exists() or "postgresql" in first.json["database"]
    assert (home / "config.toml").exists() and (home / "store").is_dir()
    assert likeness("init").exit_code == 0


# The layers of the house, top to bottom (docs/design.md): a package imports only packages of lower layers.
LAYERS = (
    ("monitor.cli", "monitor.demo"),
    ("monitor.web", "monitor.worker"),
    ("monitor.services",),
    ("monitor.pipeline", "monitor.evidence", "monitor.evaluation"),
    ("monitor.alerts",),
    ("monitor.analysis",),
    ("monitor.video",),
    ("monitor.sources", "monitor.matching", "monitor.enforcement"),
    ("monitor.fetch",),
    ("monitor.broker",),
    ("monitor.storage",),
    ("monitor.config", "monitor"),
    ("enrollment",),
)


def _module_imports() -> dict[str, set[str]]:
    """Every module of the product (enrollment, monitor) → the product modules it imports, anywhere in it."""
    modules = {}
    for package in ("enrollment", "monitor"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    imports: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
        imports[name] = {_owner(target, modules) for target in found if _owner(target, modules)} - {name}
    return imports


def _owner(dotted: str, modules: dict) -> str | None:
    """The product module a dotted import name lands in (``monitor.x.y.Name`` → ``monitor.x.y``)."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in modules:
            return ".".join(parts[:n])
    return None


def _layer(module: str) -> tuple[int, str]:
    """(rank from the top, package) of a module: its longest prefix named in LAYERS."""
    ranked = [(rank, package) for rank, layer in enumerate(LAYERS) for package in layer
              if module == package or module.startswith(package + ".")]
    return max(ranked, key=lambda found: len(found[1]))


def test_every_import_points_down_the_layers():
    upward = [f"{module} imports {target}" for module, targets in _module_imports().items() for target in targets
              if _layer(module)[1] != _layer(target)[1] and _layer(target)[0] <= _layer(module)[0]]
    assert upward == []


def test_no_module_imports_itself_through_others():
    imports = _module_imports()
    circles = []

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(imports[module]):
            if target in path:
                circles.append(" → ".join([*path[path.index(target):], target]))
            elif target not in done:
                visit(target, [*path, target])
        done.add(module)

    done: set[str] = set()
    for module in sorted(imports):
        if module not in done:
            visit(module, [module])
    assert circles == []


def test_private_names_stay_in_their_module():
    crossing = []
    for package in ("enrollment", "monitor", "bench"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] in (
                        "enrollment", "monitor", "bench"):
                    crossing += [f"{path.relative_to(ROOT)}: {alias.name}" for alias in node.names
                                 if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert crossing == []
