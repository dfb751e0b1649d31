"""The shape of the code: imports point down the layers, every setting is documented in the README."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bot.config import SETTINGS

REPO = Path(__file__).resolve().parent.parent

# Lower number = lower layer. A module may import only from its own layer or below.
LAYERS = [
    ("vocabulary", ("bot.models", "bot.errors", "bot.config")),
    ("pure core", ("bot.text", "bot.ids", "bot.parsing", "bot.profile", "bot.highlight", "bot.ranking", "bot.digest",
                   "bot.rendering", "bot.composer", "bot.schedule", "bot.tokens")),
    ("adapters", ("bot.store", "bot.fetch", "bot.delivery", "bot.lock", "bot.logs")),
    ("orchestration", ("bot.polling", "bot.matching", "bot.planning", "bot.sending", "bot.health")),
    ("wiring", ("bot.app", "bot.pipeline", "bot.scheduler", "subscribers")),
    ("entry points", ("bot.cli", "bot.__main__")),
]


def layer_of(module: str) -> int | None:
    for number, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return number
    return None


def project_modules():
    for folder in ("bot", "subscribers"):
        for path in (REPO / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            yield name, path


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.split(".")[0] in ("bot", "subscribers")}


def test_every_module_has_a_layer():
    assert [name for name, _ in project_modules() if layer_of(name) is None and name not in ("bot", "subscribers")] == []


def test_imports_point_down_and_bot_never_imports_subscribers():
    wrong = []
    for name, path in project_modules():
        mine = layer_of(name)
        for imported in imports_of(path):
            if name.startswith("bot") and not name.startswith("bot.cli") and imported.startswith("subscribers"):
                wrong.append(f"{name} imports {imported}: bot never imports subscribers")
            theirs = layer_of(imported)
            if mine is not None and theirs is not None and theirs > mine:
                wrong.append(f"{name} ({LAYERS[mine][0]}) imports {imported} ({LAYERS[theirs][0]})")
    assert wrong == []


def test_every_setting_is_in_the_readme_table():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\|\s*`([A-Z_]+)`\s*\|", readme, flags=re.MULTILINE))
    assert {s.name for s in SETTINGS} - documented == set()
    assert documented - {s.name for s in SETTINGS} == set()  # and nothing stale


def test_every_setting_has_help():
    assert all(s.help.strip() for s in SETTINGS)
