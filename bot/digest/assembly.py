"""Digest assembly (pure): a subscriber's matches ranked, capped and explained, with a subject line."""

from __future__ import annotations

import re
from itertools import chain
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Literal
from urllib.parse import quote

from bot.digest.explain import Explanation, explanations, liked_in
from bot.digest.highlight import highlight_spans, snippet
from bot.models import Match, Paper, Subscriber
from bot.digest.ranking import rank

Segments = tuple[tuple[str, bool], ...]
MAX_AUTHORS = 4
MAX_SUGGESTIONS = 3  # "You may also like": at most this many papers no interest matched
Choice = Literal["more", "less"]


@dataclass(frozen=True)
class DigestLinks:
    manage: str
    unsubscribe: str
    view: str
    vote: str = ""  # the digest's one signed vote link; each paper's vote links add the paper and the choice


def vote_url(paper_id: str, choice: Choice, base: str) -> str:
    """A paper's vote link under a digest's vote link; the id is encoded whole (`/`, `:`, `&`, `#` included)."""
    return f"{base}?paper={_quoted(paper_id)}&choice={choice}"


@lru_cache(maxsize=8192)
def _quoted(paper_id: str) -> str:
    return quote(paper_id, safe="")


@dataclass(frozen=True)
class DigestItem:
    """A paper in a digest and why, from its explanation (worked out here when not given).

    Its parts are computed when first read: a block many readers share is rendered once
    (`Fragments`, by `fragment_key`), and for the other readers they are never needed.
    """

    paper: Paper
    match: Match
    liked: Paper | None = None  # a suggestion: the liked paper it is nearest to (its "why")
    titles: Mapping[str, str] = field(default_factory=dict, compare=False)  # liked papers' titles, for `like:` hits
    explained: Explanation | None = field(default=None, compare=False)  # given by a batch that knew it

    @cached_property
    def explanation(self) -> Explanation:
        if self.liked is not None:
            return Explanation((), (), f"like “{self.liked.title}”")
        if self.explained is not None:
            return self.explained
        return explanations([self.match], {self.paper.id: self.paper}, self.titles)[(self.paper.id,
                                                                                       self.match.interests)]

    @cached_property
    def fragment_key(self) -> Hashable:
        """All that the item's block shows: readers with the same key get the same block."""
        paper = self.paper
        return (paper.id, paper.title, paper.abstract, paper.authors, paper.categories, paper.upvotes,
                tuple(paper.links.items()), self.explanation, self.liked and self.liked.id)

    @cached_property
    def title(self) -> Segments:
        return tuple(highlight_spans(self.paper.title, self.explanation.title))

    @cached_property
    def snippet(self) -> Segments:
        return tuple(snippet(self.paper.abstract, self.explanation.abstract))

    @property
    def why(self) -> str:
        return self.explanation.why

    @cached_property
    def authors(self) -> str:
        return short_authors(self.paper.authors)

    @cached_property
    def links(self) -> tuple[tuple[str, str], ...]:
        """(label, url) in display order."""
        return paper_links(self.paper)


@dataclass(frozen=True)
class Digest:
    subscriber: Subscriber
    period: str
    subject: str
    items: tuple[DigestItem, ...]
    more: int  # matches beyond the cap, behind "and N more"
    links: DigestLinks
    postal_address: str = ""
    suggestions: tuple[DigestItem, ...] = ()  # "You may also like": papers no interest matched, each explained


def assemble_digest(subscriber: Subscriber, matches: Sequence[Match], papers: Mapping[str, Paper], *,
                    period: str, links: DigestLinks, cap: int, postal_address: str = "",
                    explained: Mapping[tuple[str, tuple[str, ...]], Explanation] | None = None,
                    ranked: bool = False) -> Digest:
    """Rank the matches, keep the best `cap`, and explain each one when its block is rendered.

    `explained` holds what a batch knew already, by (paper id, interest lines); the other items
    work theirs out when their block is first rendered. `ranked`: the keyword matches come best
    first already (a batch ranked them). Suggestions (matches no interest made) are not counted:
    they follow, best learned score first, at most MAX_SUGGESTIONS, never a paper a keyword put
    in the digest. `papers` holds
    the liked papers that explain them too.
    """
    keyword = [m for m in matches if not m.suggested and m.paper_id in papers]
    if not ranked:
        keyword = rank(keyword, papers)
    shown = keyword[:cap]
    # `like:` interests are explained by the liked paper's title
    titles = {pid: papers[pid].title for m in shown for pid in liked_in(m.interests) if pid in papers}
    explained = explained or {}
    items = tuple(DigestItem(papers[m.paper_id], m, titles=titles, explained=explained.get((m.paper_id, m.interests)))
                  for m in shown)
    return Digest(subscriber, period, subject_line(len(keyword), keyword), items, len(keyword) - len(shown),
                  links, postal_address,
                  _suggestions(matches, papers, {m.paper_id for m in matches if not m.suggested}))


def _suggestions(matches: Sequence[Match], papers: Mapping[str, Paper], matched: set[str]) -> tuple[DigestItem, ...]:
    chosen = sorted((m for m in matches if m.suggested and m.paper_id in papers and m.paper_id not in matched
                     and m.suggested_from in papers),
                    key=lambda m: (-(m.learned or 0.0), m.paper_id))[:MAX_SUGGESTIONS]
    return tuple(DigestItem(papers[m.paper_id], m, liked=papers[m.suggested_from]) for m in chosen)  # type: ignore[index]


def short_authors(authors: Sequence[str]) -> str:
    if len(authors) <= MAX_AUTHORS:
        return ", ".join(authors)
    return ", ".join(authors[:MAX_AUTHORS - 1]) + f" and {len(authors) - MAX_AUTHORS + 1} more"


def paper_links(paper: Paper) -> tuple[tuple[str, str], ...]:
    labels = (("abs", "Abstract"), ("pdf", "PDF"), ("hf", "Hugging Face"), ("doi", "DOI"), ("code", "Code"))
    return tuple((label, paper.links[key]) for key, label in labels if paper.links.get(key))


def paper_url(paper: Paper) -> str:
    """Where a paper's title links to: its abstract page, else any link it has."""
    for key in ("abs", "hf", "doi"):
        if paper.links.get(key):
            return paper.links[key]
    return next(iter(paper.links.values()), "")


def subject_line(count: int, matches: Sequence[Match]) -> str:
    """'7 new papers on reward models, honesty': the count and the interests that matched most."""
    topics: Counter[str] = Counter()
    for text, uses in Counter(chain.from_iterable(m.interests for m in matches)).items():  # first seen, first
        topics[topic_label(text)] += uses
    names = [name for name, _ in topics.most_common(3) if name]
    noun = "paper" if count == 1 else "papers"
    return f"{count} new {noun} on {', '.join(names)}" if names else f"{count} new {noun} for you"


_SYNTAX = re.compile(r'\b(?:ti|abs|au|cat):|\bNOT\s+\S+|["()*]|(?:^|\s)-\S+')


@lru_cache(maxsize=65536)  # a digest names the topics of all its matches: a broad day's 500 each
def topic_label(interest: str) -> str:
    """An interest as a person would say it: `"reward model" -survey` -> `reward model`."""
    if interest.strip() == "is:trending":
        return "trending"
    text = _SYNTAX.sub(" ", interest.replace("is:trending", "trending"))
    return " ".join(text.replace(" OR ", " or ").split())
