"""One query over a set of papers, best first: `paperpost search` and the web preview."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import AbstractSet

from bot.models import Match, Paper
from bot.profile.grammar import parse_interest
from bot.profile.index import ProfileIndex
from bot.digest.ranking import rank


def search(query: str, papers: Sequence[Paper], trending: AbstractSet[str] = frozenset(),
           similar: Mapping[str, AbstractSet[str]] | None = None) -> list[Match]:
    """The papers matching one interest, ranked (subscriber_id 0); a malformed query raises QueryError.

    `similar[PAPER]`: the papers alike to PAPER, for a query with `like:PAPER` (bot/recommend).
    """
    parse_interest(query.strip())  # raise the query's own error, not an index rejection
    index = ProfileIndex.build([(0, [query])])
    return rank(index.match(papers, trending, similar), {p.id: p for p in papers})
