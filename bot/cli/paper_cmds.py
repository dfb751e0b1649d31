"""`paperpost papers` and `paperpost search`."""

from __future__ import annotations

from typing import Any

import click
from rich.text import Text

from bot.app import App
from bot.cli.root import cli, console, emit_json, emit_table, json_option, parse_date, pass_app
from bot.digest.assembly import paper_url
from bot.digest.highlight import highlight_spans, snippet, why
from bot.errors import PaperpostError
from bot.models import Match, Paper
from bot.profile import interest_warnings, liked_columns, search, unknown_liked
from bot.store import papers


def paper_row(paper: Paper) -> dict[str, Any]:
    return {
        "id": paper.id, "title": paper.title, "authors": list(paper.authors), "categories": list(paper.categories),
        "published": paper.published, "updated": paper.updated, "version": paper.version, "links": paper.links,
        "upvotes": paper.upvotes, "announce_type": paper.announce_type, "doi": paper.doi,
    }


@cli.command("papers")
@click.option("--since", help="Only papers first seen on or after this date (YYYY-MM-DD).")
@json_option
@pass_app
def papers_cmd(app: App, since: str | None, as_json: bool) -> None:
    """List the stored papers, newest first."""
    with app.db.session() as session:
        rows = papers.list_papers(session, parse_date(since))
    if as_json:
        emit_json({**paper_row(p), "sources": names} for p, names in rows)
        return
    emit_table(("id", "title", "authors", "sources"),
               ((p.id, p.title[:70], ", ".join(p.authors[:2]) + (" …" if len(p.authors) > 2 else ""), ", ".join(n))
                for p, n in rows), title=f"{len(rows)} papers")


@cli.command("search")
@click.argument("query")
@click.option("--since", help="Only papers first seen on or after this date (YYYY-MM-DD).")
@click.option("--limit", default=20, show_default=True, help="Show at most this many papers.")
@json_option
@pass_app
def search_cmd(app: App, query: str, since: str | None, limit: int, as_json: bool) -> None:
    """Run a profile query over the stored papers, best first, with the matched words highlighted."""
    from bot.jobs.match import current_trending

    liked = [paper_id for paper_id, _ in liked_columns(query.strip())]  # a malformed query stops here
    with app.db.session() as session:
        stored = [p for p, _ in papers.list_papers(session, parse_date(since))]
        trending = current_trending(session, app.clock(), app.config["PAPERPOST_TRENDING_TOP"])
        liked_papers = papers.papers_by_id(session, liked)
    unknown = unknown_liked([query.strip()], set(liked_papers))
    if unknown:
        raise PaperpostError(f"Cannot search {query!r}: {unknown[0][1]}.")
    found = search(query, stored, trending, _alike(app, stored, list(liked_papers.values())))
    titles = {p.id: p.title for p in liked_papers.values()}
    for warning in interest_warnings(query):  # on stderr: --json output stays clean
        click.echo(f"warning: {warning}", err=True)
    by_id = {p.id: p for p in stored}
    if as_json:
        emit_json({**paper_row(by_id[m.paper_id]), "score": m.score, "matched": matched_terms(m), "why": why(m, titles)}
                  for m in found[:limit])
        return
    if not found:
        console.print(f"No stored paper matches {query!r}" + (f" since {since}." if since else "."))
        return
    count = "1 paper matches" if len(found) == 1 else f"{len(found)} papers match"
    console.print(f"{count} {query!r}" + (f"; the best {limit}:" if len(found) > limit else ":"))
    for n, match in enumerate(found[:limit], 1):
        paper = by_id[match.paper_id]
        console.print(Text(f"\n{n}. ").append(_highlighted(paper.title, match, "title", whole=True)))
        console.print(Text("   ").append(_highlighted(paper.abstract, match, "abstract", whole=False)))
        console.print(f"   {why(match, titles)} · score {match.score:.1f} · {paper_url(paper)}", style="dim")


def _alike(app: App, stored: list[Paper], liked: list[Paper]) -> dict[str, frozenset[str]] | None:
    """For a query with `like:`: the stored papers alike to each liked one (bot/recommend), else None."""
    if not liked:
        return None
    from bot.recommend import day_features, similar_papers

    features = day_features(app.clock().date(), stored).extended(liked)
    return similar_papers(features, [p.id for p in liked], [p.id for p in stored])


def matched_terms(match: Match) -> list[dict[str, Any]]:
    return [{"term": h.term, "field": h.field, "start": h.start, "end": h.end} for h in match.hits]


def _highlighted(text: str, match: Match, field: str, *, whole: bool) -> Text:
    spans = [(h.start, h.end) for h in match.hits if h.field == field]
    segments = highlight_spans(text, spans) if whole else snippet(text, spans, width=240)
    out = Text()
    for segment, hit in segments:
        out.append(segment, style="bold yellow" if hit else None)
    return out
