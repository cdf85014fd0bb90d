"""The rooms table of docs/architecture.md, enforced: each package imports only what its room allows.

Every import statement is read from the source (ast), lazy ones inside functions included, so a
dependency against the data flow (bot → scheduler, an adapter reading core's tables) fails here instead
of creeping in. bot/cli.py is the composition root: it starts the scheduler, so it alone may import it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("core", "adapters", "bot", "scheduler")

# Room → the modules of ours it may import (a module and everything below it).
ROOMS: dict[str, tuple[str, ...]] = {
    "core": ("core",),
    "adapters": ("adapters", "bot.model", "bot.adapter", "bot.kv", "bot.serial"),
    "bot": ("bot", "core", "adapters"),
    "scheduler": ("scheduler", "core", "bot"),
}
COMPOSITION_ROOT = {"bot/cli.py": ("scheduler",)}


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module) of every import in `source`, the module `module`; `from a import b` counts as `a.b`
    (b may be a module), relative imports are made absolute."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                package = parts if is_package else parts[:-1]
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return sorted(found)


def violations(path: Path) -> list[str]:
    relative = path.relative_to(ROOT).as_posix()
    room = relative.split("/")[0]
    allowed = ROOMS[room] + COMPOSITION_ROOT.get(relative, ())
    module = relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    return [
        f"{relative}:{line} imports {name}"
        for line, name in imported_modules(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
        if name.split(".")[0] in OURS and not any(name == ok or name.startswith(ok + ".") for ok in allowed)
    ]


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_each_room_imports_only_what_the_rooms_table_allows(room: str) -> None:
    files = sorted((ROOT / room).rglob("*.py"))
    assert files, f"no Python files under {room}/"
    assert [problem for path in files for problem in violations(path)] == []


def test_the_check_sees_lazy_relative_and_from_imports(tmp_path: Path) -> None:
    source = (
        "from scheduler.log import mark_handled\n"
        "def later():\n    import scheduler.models\n"
        "from bot import cards\n"
        "from . import parse\n"
    )
    found = [name for _, name in imported_modules(source, "adapters.wecom.client", False)]
    assert found == ["scheduler.log.mark_handled", "scheduler.models", "bot.cards", "adapters.wecom.parse"]
    assert [name for _, name in imported_modules("from .. import http\n", "adapters.wecom", True)] == ["adapters.http"]
