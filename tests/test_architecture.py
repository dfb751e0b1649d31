"""The shape of the code: imports point down the layers, every setting is documented in the README."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bot.config import SETTINGS

REPO = Path(__file__).resolve().parent.parent

# Lower number = lower layer. A module may import only from its own layer or below.
# The longest matching prefix decides: bot.jobs.worker (wiring) sits above the other jobs.
LAYERS = [
    ("vocabulary", ("bot.models", "bot.errors", "bot.config")),
    ("pure core", ("bot.text", "bot.ids", "bot.sources.parsing", "bot.profile", "bot.digest", "bot.recommend",
                   "bot.tokens", "bot.channels.email.mime", "bot.channels.outcomes", "subscribers.validation",
                   "subscribers.importer")),
    ("adapters", ("bot.store", "bot.sources", "bot.channels", "bot.logs", "bot.jobs.locks", "bot.jobs.liveness", "subscribers.ratelimit")),
    ("orchestration", ("bot.jobs", "subscribers.service")),
    ("wiring", ("bot.app", "bot.jobs.worker", "bot.jobs.cycle", "bot.jobs.send_processes", "subscribers.web", "subscribers.telegram")),
    ("entry points", ("bot.cli", "bot.__main__")),
]


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for number, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), number)
    return None if best is None else best[1]


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
