"""The vote pages: "More like this" and "Not for me" under every paper of a digest.

`GET /vote/{token}?paper=ID&choice=more|less` shows the paper and one button for the choice
clicked (the other beside it): mail scanners open every link, so a GET records nothing.
`POST /vote/{token}` (CSRF) records the choice, or removes the vote, and shows the result.
One signed token per digest serves all its links: the token names the reader, the query
the paper (any stored id, encoded whole).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.digest.assembly import short_authors
from bot.logs import log_event
from bot.models import Paper, Subscriber
from bot.store import Database, papers, votes
from subscribers.web.site import Site

CHOICES: dict[str, int | None] = {"more": votes.MORE, "less": votes.LESS, "clear": None}
MAX_PAPER_ID = 300  # the papers.id column: anything longer is no stored paper


def _stored(session: Session, paper_id: str) -> Paper | None:
    if not paper_id or len(paper_id) > MAX_PAPER_ID:
        return None
    return papers.papers_by_id(session, [paper_id]).get(paper_id)


def paper_and_vote(db: Database, subscriber_id: int, paper_id: str) -> tuple[Paper, int | None] | None:
    """The stored paper and the reader's vote on it; None when no such paper is stored."""
    with db.session() as session:
        found = _stored(session, paper_id)
        return None if found is None else (found, votes.vote_on(session, subscriber_id, paper_id))


def record_vote(db: Database, subscriber_id: int, paper_id: str, choice: str,
                now: datetime) -> tuple[Paper, int | None] | None:
    """Record `choice` (more, less, clear) on a stored paper; None when the paper is not stored."""
    with db.session() as session:
        found = _stored(session, paper_id)
        if found is None:
            return None
        changed = votes.set_vote(session, subscriber_id, paper_id, CHOICES[choice], now)
    if changed:
        log_event("vote.recorded", subscriber=subscriber_id, choice=choice, via="web")
    return found, CHOICES[choice]


def voted_papers(db: Database, subscriber_id: int) -> tuple[list[Paper], list[Paper]]:
    """(liked, not for me): the reader's voted papers, newest vote first (the manage page lists them)."""
    with db.session() as session:
        cast = votes.votes_of(session, subscriber_id)
        found = papers.papers_by_id(session, cast)
    ordered = [(found[pid], value) for pid, value in cast.items() if pid in found]
    return [p for p, v in ordered if v == votes.MORE], [p for p, v in ordered if v == votes.LESS]


def _unknown_paper(site: Site, request: Request) -> Response:
    return site.pages.error(request, 404, "This paper is not in our list any more (old papers are removed after a "
                            "while), so there is nothing to vote on.", title="Paper not found")


def _bad_choice(site: Site, request: Request) -> Response:
    return site.pages.error(request, 400, "Links from our mails must be opened whole; if it was cut, copy all of it "
                            "into the address bar.")


def _page(site: Site, request: Request, person: Subscriber, paper: Paper, vote: int | None, choice: str,
          done: str | None = None) -> Response:
    return site.pages.render(request, "vote.html", title="Your vote", paper=paper, vote=vote, choice=choice, done=done,
                             authors=short_authors(paper.authors), manage_url=site.link("manage", person),
                             digest_url=site.link("digest", person))


async def vote_page(site: Site, request: Request) -> Response:
    """The paper and a button for the choice clicked; nothing is recorded (scanners open every link)."""
    person = await site.person(request, "vote")
    if isinstance(person, Response):
        return person
    choice = request.query_params.get("choice", "")
    if choice not in ("more", "less"):
        return _bad_choice(site, request)
    found = await site.blocking(paper_and_vote, site.app.db, person.id, request.query_params.get("paper", ""))
    if found is None:
        return _unknown_paper(site, request)
    return _page(site, request, person, found[0], found[1], choice)


async def vote_post(site: Site, request: Request) -> Response:
    """Record the button pressed (more, less, or clear: remove the vote) and show the result."""
    posted = await site.posted(request, "vote")
    if isinstance(posted, Response):
        return posted
    person, form = posted
    choice, paper_id = str(form.get("choice") or ""), str(form.get("paper") or "")
    if choice not in CHOICES:
        return _bad_choice(site, request)
    found = await site.blocking(record_vote, site.app.db, person.id, paper_id, choice, site.app.clock())
    if found is None:
        return _unknown_paper(site, request)
    return _page(site, request, person, found[0], found[1], choice, done=choice)
