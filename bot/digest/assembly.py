"""Digest assembly (pure): a subscriber's matches ranked, capped and explained, with a subject line."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from bot.digest.evidence import with_hits
from bot.digest.highlight import highlight_spans, snippet, why
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
    return f"{base}?paper={quote(paper_id, safe='')}&choice={choice}"


@dataclass(frozen=True)
class DigestItem:
    paper: Paper
    match: Match
    title: Segments
    snippet: Segments
    why: str
    authors: str
    links: tuple[tuple[str, str], ...]  # (label, url) in display order
    liked: Paper | None = None  # a suggestion: the liked paper it is nearest to (its "why")

    @property
    def fragment_key(self) -> tuple:
        """All that the item's block in a message shows: readers with the same key get the same block."""
        paper = self.paper
        return (paper.id, paper.title, paper.categories, paper.upvotes, self.title, self.snippet, self.why,
                self.authors, self.links, self.liked and self.liked.id)


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
                    period: str, links: DigestLinks, cap: int, postal_address: str = "") -> Digest:
    """Rank the matches, keep the best `cap`, and explain each one (hits found for those shown, if not stored).

    Suggestions (matches no interest made) are not counted: they follow, best learned score
    first, at most MAX_SUGGESTIONS, never a paper a keyword put in the digest. `papers` holds
    the liked papers that explain them too.
    """
    keyword = [m for m in matches if not m.suggested]
    ranked = [m for m in rank(keyword, papers) if m.paper_id in papers]
    shown = with_hits(ranked[:cap], papers)
    titles = {hit.term: papers[hit.term].title for match in shown for hit in match.hits
              if hit.field == "like" and hit.term in papers}  # `like:` interests are explained by the liked title
    items = tuple(_item(match, papers[match.paper_id], titles) for match in shown)
    return Digest(subscriber, period, subject_line(len(ranked), ranked), items, len(ranked) - len(shown),
                  links, postal_address, _suggestions(matches, papers, {m.paper_id for m in keyword}))


def _suggestions(matches: Sequence[Match], papers: Mapping[str, Paper], matched: set[str]) -> tuple[DigestItem, ...]:
    chosen = sorted((m for m in matches if m.suggested and m.paper_id in papers and m.paper_id not in matched
                     and m.suggested_from in papers),
                    key=lambda m: (-(m.learned or 0.0), m.paper_id))[:MAX_SUGGESTIONS]
    return tuple(_suggested_item(m, papers[m.paper_id], papers[m.suggested_from]) for m in chosen)  # type: ignore[index]


def _suggested_item(match: Match, paper: Paper, liked: Paper) -> DigestItem:
    return DigestItem(paper=paper, match=match, title=((paper.title, False),),
                      snippet=tuple(snippet(paper.abstract, [])), why=f"like “{liked.title}”",
                      authors=short_authors(paper.authors), links=paper_links(paper), liked=liked)


def _item(match: Match, paper: Paper, titles: Mapping[str, str]) -> DigestItem:
    title_spans = [(h.start, h.end) for h in match.hits if h.field == "title"]
    abstract_spans = [(h.start, h.end) for h in match.hits if h.field == "abstract"]
    return DigestItem(
        paper=paper, match=match,
        title=tuple(highlight_spans(paper.title, title_spans)),
        snippet=tuple(snippet(paper.abstract, abstract_spans)),
        why=why(match, titles), authors=short_authors(paper.authors), links=paper_links(paper),
    )


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
    topics = Counter(topic_label(i) for m in matches for i in m.interests)
    names = [name for name, _ in topics.most_common(3) if name]
    noun = "paper" if count == 1 else "papers"
    return f"{count} new {noun} on {', '.join(names)}" if names else f"{count} new {noun} for you"


_SYNTAX = re.compile(r'\b(?:ti|abs|au|cat):|\bNOT\s+\S+|["()*]|(?:^|\s)-\S+')


def topic_label(interest: str) -> str:
    """An interest as a person would say it: `"reward model" -survey` -> `reward model`."""
    if interest.strip() == "is:trending":
        return "trending"
    text = _SYNTAX.sub(" ", interest.replace("is:trending", "trending"))
    return " ".join(text.replace(" OR ", " or ").split())
