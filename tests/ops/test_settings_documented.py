"""Every environment variable the project reads is documented in .env.example.

Read from the source (no settings import): settings.py reads through `env.<type>("NAME", ...)` and its
own helpers (`_rate("NAME", ...)`); elsewhere a read is `os.environ.get("NAME")`, `os.environ["NAME"]`
or `os.getenv("NAME")`. A commented-out `#NAME=` line in .env.example counts as documented.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "movierec_site" / "settings.py"
# Not part of the running project: its tests, benchmarks, data and generated files.
NOT_PROJECT = {"tests", "bench", "data", "static", "staticfiles", "templates", "var"}


def _documented() -> set[str]:
    return set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), flags=re.MULTILINE))


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_env_call(node: ast.Call) -> bool:
    func = node.func
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env"


def _settings_reads() -> tuple[set[str], list[str]]:
    """Variable names settings.py reads, and the lines of reads whose name is not a literal."""
    tree = ast.parse(SETTINGS.read_text())
    helpers = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    helper_names = {helper.name for helper in helpers}
    inside_helpers = {id(node) for helper in helpers for node in ast.walk(helper)}
    names: set[str] = set()
    unreadable: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        by_helper = isinstance(node.func, ast.Name) and node.func.id in helper_names
        if not (by_helper or _is_env_call(node)):
            continue
        name = _literal(node.args[0] if node.args else None)
        if name is not None:
            names.add(name)
        elif id(node) not in inside_helpers:  # a helper reads its parameter; its callers name the variable
            unreadable.append(f"settings.py:{node.lineno}")
    return names, unreadable


def _project_files() -> Iterator[Path]:
    for top in sorted(ROOT.iterdir()):
        if top.name.startswith(".") or top.name in NOT_PROJECT or top.is_symlink():
            continue
        if top.is_dir():
            yield from sorted(top.rglob("*.py"))
        elif top.suffix == ".py":
            yield top


def _is_os(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "os"


def _is_os_environ(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" and _is_os(node.value)


def _os_environ_reads() -> dict[str, str]:
    """Variable names read with os.environ / os.getenv anywhere in the project, with one place each."""
    found: dict[str, str] = {}
    for path in _project_files():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            name = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                environ_get = node.func.attr == "get" and _is_os_environ(node.func.value)
                getenv = node.func.attr == "getenv" and _is_os(node.func.value)
                if environ_get or getenv:
                    name = _literal(node.args[0])
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_os_environ(node.value):
                name = _literal(node.slice)
            if name:
                found.setdefault(name, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_variable_settings_reads_is_in_env_example():
    names, unreadable = _settings_reads()
    assert not unreadable, f"name environment variables literally so this test can see them: {unreadable}"
    # The parser sees reads through env.<type>() and through the settings' own helpers.
    assert {"SECRET_KEY", "DATABASE_URL", "API_THROTTLE_ANON", "METRICS_ALLOWED_IPS", "WEB_CONCURRENCY"} <= names
    missing = sorted(names - _documented())
    assert not missing, f"read in settings.py but missing from .env.example: {missing}"


def test_every_variable_read_from_os_environ_is_in_env_example():
    reads = _os_environ_reads()
    assert "PROMETHEUS_MULTIPROC_DIR" in reads  # read by ops.metrics, ops.gunicorn_conf and serve
    documented = _documented()
    missing = {name: where for name, where in reads.items() if name not in documented}
    assert not missing, f"read from the environment but missing from .env.example: {missing}"
