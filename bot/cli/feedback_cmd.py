"""`paperpost feedback EMAIL PAPER_ID --more|--less|--clear`: record or remove a reader's vote on a paper."""

from __future__ import annotations

import click

from bot.app import App
from bot.cli.root import cli, console, pass_app
from bot.cli.subscriber_cmds import no_one
from bot.errors import PaperpostError
from bot.ids import find_arxiv_id
from bot.store import papers, subscribers, votes

CHOICES = {"more": votes.MORE, "less": votes.LESS, "clear": None}
SAID = {votes.MORE: "more like this", votes.LESS: "not for me"}


def stored_id(text: str) -> str:
    """The stored id a person typed: `2401.12345`, `arxiv:2401.12345v2` or an arXiv link become `arxiv:2401.12345`."""
    found = find_arxiv_id(text)
    return found[0] if found is not None else text.strip()


@cli.command("feedback")
@click.argument("identifier", metavar="EMAIL|tg:CHAT_ID|#ID")
@click.argument("paper_id", metavar="PAPER_ID")
@click.option("--more", "choice", flag_value="more", help="More like this: the reader's model learns they want it.")
@click.option("--less", "choice", flag_value="less", help="Not for me.")
@click.option("--clear", "choice", flag_value="clear", help="Remove the reader's vote on the paper.")
@pass_app
def feedback_cmd(app: App, identifier: str, paper_id: str, choice: str | None) -> None:
    """Record a reader's vote on a paper (as their digest's buttons do), or remove it with --clear."""
    if choice is None:
        raise PaperpostError("Say what to record: --more (more like this), --less (not for me) or --clear.")
    wanted = stored_id(paper_id)
    with app.db.session() as session:
        person = subscribers.find_by_identifier(session, identifier)
        if person is None:
            raise PaperpostError(no_one(identifier))
        paper = papers.papers_by_id(session, [wanted]).get(wanted)
        if paper is None:
            raise PaperpostError(f"No paper {paper_id} is stored; `paperpost papers` lists them "
                                 "(ids as 2401.12345, arxiv:2401.12345 or the id shown there).")
        before = votes.vote_on(session, person.id, paper.id)
        votes.set_vote(session, person.id, paper.id, CHOICES[choice], app.clock())
    title = paper.title if len(paper.title) <= 80 else paper.title[:79] + "…"
    if choice == "clear":
        said = f"removed the vote ({SAID[before]})" if before is not None else "no vote to remove"
    else:
        said = f"recorded {SAID[CHOICES[choice]]}" + (" (unchanged)" if before == CHOICES[choice] else "")  # type: ignore[index]
    console.print(f"{said}: {person.label} on {paper.id} ({title})")
