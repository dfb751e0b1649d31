"""axe-core for the accessibility tests: installed from npm on first use, run in a page, violations as sentences.

The pages' CSP allows no inline script, so axe is not added as a <script> tag: its source is
evaluated through the DevTools protocol (page.evaluate), which runs beside the page's CSP and
leaves it in force for everything the page itself does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from playwright.sync_api import Page

AXE_DIR = Path(__file__).resolve().parent / ".axe"  # git-ignored
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
AXE_PACKAGE = "axe-core@4"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SCHEMES = ("light", "dark")
WIDTHS = (390, 1280)


def axe_source() -> str:
    """axe.min.js, installed into tests/.axe with npm when it is not there yet; AssertionError saying how if that fails."""
    if not AXE_JS.exists():
        npm = shutil.which("npm")
        assert npm, f"npm is needed to install {AXE_PACKAGE} for the accessibility tests: install Node.js (apt-get install npm)"
        AXE_DIR.mkdir(exist_ok=True)
        done = subprocess.run([npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(AXE_DIR),
                               AXE_PACKAGE], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and AXE_JS.exists(), (
            f"`npm install --prefix {AXE_DIR} {AXE_PACKAGE}` failed (exit {done.returncode}); check that the npm "
            f"registry is reachable, or install it by hand:\n{done.stdout}\n{done.stderr}")
    return AXE_JS.read_text(encoding="utf-8")


def _run_axe(page: Page, source: str) -> list[dict]:
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(source)  # a script, not a function: playwright evaluates it as an expression
    return page.evaluate("""async (tags) => {
        const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}));
    }""", WCAG_TAGS)


def describe(where: str, violation: dict) -> str:
    """One violation as a paragraph: where, rule id, what it asks, and each failing node."""
    lines = [f"{where}: {violation['id']} ({violation['impact']}): {violation['help']}"]
    for node in violation["nodes"]:
        summary = " ".join((node["summary"] or "").split())
        lines.append(f"    {node['target']}: {summary}")
    return "\n".join(lines)


def audit(page: Page, name: str, source: str) -> list[str]:
    """axe (WCAG 2.1 AA) in light and dark at 390 and 1280 px, a screenshot of each; the problems found, as text.

    Also a problem: a page that scrolls sideways at a width (it overflows its column).
    """
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            where = f"{name} {scheme} {width}px"
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            if scroll_width > width:
                problems.append(f"{where}: scrolls sideways ({scroll_width}px wide)")
            problems.extend(describe(where, v) for v in _run_axe(page, source))
            page.screenshot(path=str(ARTIFACTS / f"a11y-{name}-{scheme}-{width}.png"), full_page=True)
    return problems
