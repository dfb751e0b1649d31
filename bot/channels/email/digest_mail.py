"""Digest emails: what composing needs (MailContext), and a claimed batch's digests loaded at once then composed.

Composing used to load each row's subscriber, matches and papers one query at a
time (15-20 ms a digest, most of it SQLAlchemy); a `DigestBatch` loads what a
whole claim needs in a few queries, and composing one row from it is pure
(render + MIME build, about 1 ms), so it can run in the sending threads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from bot.channels.channel import BatchComposer, Composer, RowComposer
from bot.channels.email.mime import Envelope, build_email
from bot.digest.assembly import Digest, assemble_digest
from bot.digest.explain import Explanation, explanations, liked_in
from bot.digest.ranking import rank
from bot.profile.heap import collector_paused
from bot.models import Match, Paper, Subscriber
from bot.store import matches, papers, subscribers
from bot.store.outbox import OutboxItem
from bot.channels.context import MailContext, digest_links, list_headers

__all__ = ["BatchComposer", "Composer", "DigestBatch", "DigestComposer", "MailContext", "RowComposer",
           "compose_digest", "digest_links", "list_headers", "load_digest", "preview_digest"]


def _assemble(person: Subscriber, carried: list[Match], found: Mapping[str, Paper], period: str, ctx: MailContext,
              explained: Explained | None = None, ranked: bool = False) -> Digest:
    return assemble_digest(person, carried, found, period=period, cap=ctx.config["PAPERPOST_DIGEST_MAX"],
                           links=digest_links(ctx, person), postal_address=ctx.config["PAPERPOST_POSTAL_ADDRESS"],
                           explained=explained, ranked=ranked)


Explained = dict[tuple[str, tuple[str, ...]], Explanation]  # by (paper id, interest lines)


@dataclass(frozen=True)
class DigestBatch:
    """Everything the digests of a claim need: subscribers by id, matches by outbox id (keyword matches best
    first, then suggestions), papers by id, and why the papers they show matched."""

    people: dict[int, Subscriber] = field(default_factory=dict)
    carried: dict[int, list[Match]] = field(default_factory=dict)
    papers: dict[str, Paper] = field(default_factory=dict)
    explained: Explained = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, items: Iterable[OutboxItem], cap: int) -> DigestBatch:
        """Load a claim's digests in a few queries (however many rows it has), with why the papers shown matched.

        Tens of thousands of small objects at once, none in a cycle: the cyclic garbage collector
        is paused meanwhile (its full collections walked them again and again: half the load's time).
        """
        with collector_paused():
            return cls._load(session, list(items), cap)

    @classmethod
    def _load(cls, session: Session, items: list[OutboxItem], cap: int) -> DigestBatch:
        people = subscribers.subscribers_by_id(session, [i.subscriber_id for i in items])
        carried = matches.stored_matches_by_outbox(session, [i.id for i in items])
        found = papers.papers_by_id(session, papers_shown([m for ms in carried.values() for m in ms]))
        ranked = {outbox_id: _ranked(ms, found) for outbox_id, ms in carried.items()}
        return cls(people, ranked, found, _explain_shown(ranked.values(), found, cap))

    def digest(self, item: OutboxItem, ctx: MailContext) -> Digest | None:
        """The digest row `item` carries (the same on every attempt), or None when its subscriber is gone."""
        person = self.people.get(item.subscriber_id)
        if person is None:
            return None
        return _assemble(person, self.carried.get(item.id, []), self.papers, item.period, ctx, self.explained,
                         ranked=True)

    def compose(self, item: OutboxItem, ctx: MailContext) -> Envelope | None:
        """The digest email for `item` (pure), or None when it must not be sent any more."""
        person = self.people.get(item.subscriber_id)
        if person is None or person.status != "active" or not person.email_on or person.email is None:
            return None  # left, paused, no address, or the address went off since the digest was planned
        digest = self.digest(item, ctx)
        if digest is None or (not digest.items and not person.send_empty):
            return None
        text, html = ctx.renderer.render_email("digest", digest=digest)
        return build_email(outbox_id=item.id, kind=item.kind, mail_from=ctx.config["PAPERPOST_MAIL_FROM"],
                           to=person.email, subject=digest.subject, text=text, html=html, date=ctx.clock(),
                           headers=list_headers(ctx, digest.links.unsubscribe))


def _ranked(carried: list[Match], found: Mapping[str, Paper]) -> list[Match]:
    """The keyword matches with a paper, best first, then the suggestions."""
    return rank([m for m in carried if not m.suggested and m.paper_id in found], found) + [m for m in carried
                                                                                          if m.suggested]


def _explain_shown(ranked: Iterable[list[Match]], found: Mapping[str, Paper], cap: int) -> Explained:
    """Why each digest's best `cap` matches (the ones it shows) matched, worked out for the whole batch at once."""
    shown = [m for ms in ranked for m in ms[:cap] if not m.suggested]
    titles = {pid: found[pid].title for pid in liked_in({text for m in shown for text in m.interests})
              if pid in found}
    return explanations(shown, found, titles)


class DigestComposer:
    """The composer of `digest` rows: one row from a session, or a whole claim loaded at once."""

    def __call__(self, session: Session, item: OutboxItem, ctx: MailContext) -> Envelope | None:
        return DigestBatch.load(session, [item], ctx.config["PAPERPOST_DIGEST_MAX"]).compose(item, ctx)

    def prepare(self, session: Session, items: list[OutboxItem], ctx: MailContext) -> RowComposer:
        batch = DigestBatch.load(session, items, ctx.config["PAPERPOST_DIGEST_MAX"])
        return lambda item: batch.compose(item, ctx)


compose_digest = DigestComposer()


def load_digest(session: Session, item: OutboxItem, ctx: MailContext) -> Digest | None:
    """The digest an outbox row carries, rebuilt from its stored matches (the same on every attempt)."""
    return DigestBatch.load(session, [item], ctx.config["PAPERPOST_DIGEST_MAX"]).digest(item, ctx)


def preview_digest(session: Session, person: Subscriber, period: str, ctx: MailContext) -> Digest:
    """The digest `person` would get now from their unsent matches (nothing is written)."""
    pending = matches.unsent_matches(session, person.id, "email")
    return _assemble(person, pending, papers.papers_by_id(session, papers_shown(pending)), period, ctx)


def papers_shown(carried: Iterable[Match]) -> set[str]:
    """The papers a digest of these matches needs: theirs, and the liked papers that explain suggestions and
    `like:` interests (their titles are the "why")."""
    wanted: set[str] = set()
    lines: set[tuple[str, ...]] = set()  # a subscriber's matches share a few interest tuples
    for m in carried:
        wanted.add(m.paper_id)
        if m.suggested_from:
            wanted.add(m.suggested_from)
        lines.add(m.interests)
    return wanted | liked_in({text for interests in lines for text in interests})
