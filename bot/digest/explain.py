"""What a paper's block in a digest shows of its match: the highlighted spans and the reason, kept per process.

A match's explanation follows from its paper and its interest lines alone (hits are found from
them), so readers with the same lines for a paper share it: it is worked out once per (paper,
lines) for the day, and their matches need no hits at all. The block rendered from it is then
shared by every reader with the same explanation (`Fragments`), even with other lines.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass

from bot.digest.evidence import with_hits
from bot.digest.generations import TwoGenerations
from bot.digest.highlight import merged_spans, why
from bot.models import Match, Paper
from bot.profile.grammar import papers_liked_in

Spans = tuple[tuple[int, int], ...]
_KEPT = 50_000  # per generation: a typical day's distinct (paper, lines) pairs are a few hundred thousand


@dataclass(frozen=True)
class Explanation:
    """The highlighted spans of a paper's title and abstract for a match, and its reason."""

    title: Spans
    abstract: Spans
    why: str


_explanations: TwoGenerations[Explanation] = TwoGenerations(_KEPT)


def explain(match: Match, paper: Paper, titles: Mapping[str, str]) -> Explanation:
    """The explanation of a match (with its hits) of `paper`; `titles` names the liked papers of `like:` hits."""
    return Explanation(merged_spans(match.hits, "title", len(paper.title)),
                       merged_spans(match.hits, "abstract", len(paper.abstract)), why(match, titles))


def explanation_key(match: Match, paper: Paper, titles: Mapping[str, str]) -> Hashable:
    """What a match's explanation depends on: the paper as stored, the lines that matched it, hits stored
    with the row (older rows), and the titles of the papers its `like:` lines name."""
    liked = tuple(sorted((pid, titles[pid]) for pid in liked_in(match.interests) if pid in titles))
    return (paper.id, paper.title, paper.abstract, paper.authors, paper.categories, match.interests,
            match.hits, liked)


def explanations(matches: Iterable[Match], papers: Mapping[str, Paper],
                 titles: Mapping[str, str]) -> dict[tuple[str, tuple[str, ...]], Explanation]:
    """Each match's explanation by (paper id, interest lines): known ones from the process's cache, the
    others from hits found for all of them at once (one index over their lines)."""
    out: dict[tuple[str, tuple[str, ...]], Explanation] = {}
    missing: dict[tuple[str, tuple[str, ...]], tuple[Match, Hashable]] = {}
    for m in matches:
        pair = (m.paper_id, m.interests)
        if pair in out or pair in missing or m.paper_id not in papers:
            continue
        key = explanation_key(m, papers[m.paper_id], titles)
        known = _explanations.get(key)
        if known is not None:
            out[pair] = known
        else:
            missing[pair] = (m, key)
    found = with_hits([m for m, _ in missing.values()], papers)
    for (pair, (_, key)), m in zip(missing.items(), found):
        out[pair] = made = explain(m, papers[m.paper_id], titles)
        _explanations.put(key, made)
    return out


def liked_in(interests: Collection[str]) -> set[str]:
    """The papers the `like:` of these interest lines name (none without `like:`: the common case, no parse)."""
    return papers_liked_in(interests) if any("like:" in line for line in interests) else set()
