"""`paperpost recommend EMAIL`: what a reader's votes would add to their digest today, and why."""

from __future__ import annotations

import click

from bot.app import App
from bot.cli.root import cli, console, emit_json, json_option, pass_app
from bot.errors import PaperpostError
from bot.jobs.learn import preview
from bot.store import papers, subscribers


@cli.command("recommend")
@click.argument("who", metavar="EMAIL|tg:CHAT_ID|#ID")
@click.option("--limit", default=3, show_default=True, type=click.IntRange(min=1, max=100),
              help="Show at most this many papers (a digest takes 3).")
@json_option
@pass_app
def recommend_cmd(app: App, who: str, limit: int, as_json: bool) -> None:
    """The papers no interest matched that the reader's model would suggest today, with the liked paper behind each."""
    with app.db.session() as session:
        person = subscribers.find_by_identifier(session, who)
        if person is None:
            raise PaperpostError(f"No subscriber {who}; `paperpost subscribers list` shows who there is.")
        found = preview(session, person.id, app.clock(), recent_days=app.config["PAPERPOST_RECENT_DAYS"], limit=limit)
        shown = papers.papers_by_id(session, {p for s in (found.suggestions if found else ()) for p in (s.paper_id, s.liked)})
    if found is None:
        console.print(f"{person.label} has not liked a paper yet: there is nothing to learn from, so their digest "
                      "is their keyword matches only (`paperpost feedback EMAIL PAPER_ID --more` records a like).")
        return
    if as_json:
        emit_json({"paper": s.paper_id, "title": shown[s.paper_id].title, "score": s.score, "model": found.kind,
                   "liked": s.liked, "why": f"like “{shown[s.liked].title}”"} for s in found.suggestions)
        return
    if not found.suggestions:
        console.print(f"Nothing to add for {person.label} today: no recent paper their interests missed is "
                      f"close enough to what they liked ({found.kind} model).")
        return
    console.print(f"For {person.label} ({found.kind} model from their votes), today's \"You may also like\":")
    for n, s in enumerate(found.suggestions, 1):
        console.print(f"\n{n}. {shown[s.paper_id].title}  [{s.paper_id}]")
        console.print(f"   like “{shown[s.liked].title}” · score {s.score:.3f}", style="dim")
