"""Which papers are trending: per day, the most upvoted among those with upvotes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date


def trending_ids(papers: Iterable[tuple[str, date, int | None]], top_n: int) -> set[str]:
    """The ids of the top `top_n` papers of each day by upvotes (no upvotes, or 0: never trending).

    Ties at the cut are broken by id so the answer does not depend on input order.
    """
    by_day: defaultdict[date, list[tuple[int, str]]] = defaultdict(list)
    for paper_id, day, upvotes in papers:
        if upvotes:
            by_day[day].append((-upvotes, paper_id))
    return {paper_id for day in by_day.values() for _, paper_id in sorted(day)[:max(top_n, 0)]}
