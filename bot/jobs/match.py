"""The matching job: run new papers through every profile, and new profiles through recent papers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.profile import ProfileIndex, trending_ids
from bot.store import Database, matches, papers, subscribers

TRENDING_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class MatchReport:
    papers: int  # new papers run through the index
    profiles: int  # new or changed profiles run over recent papers
    matches: int  # new (subscriber, paper) matches stored


def current_trending(session: Session, now: datetime, top_n: int) -> set[str]:
    """Ids of the papers `is:trending` means now: each recent day's most upvoted."""
    return trending_ids(papers.upvote_days(session, now - TRENDING_WINDOW), top_n)


def match_pending(db: Database, now: datetime, *, recent_days: int, trending_top: int) -> MatchReport:
    """Match what is new since the last run; each pair is stored once, whatever runs twice."""
    with db.session() as session:
        trending = current_trending(session, now, trending_top)
        new_papers = papers.unmatched_papers(session)
        added = 0
        if new_papers:
            index = ProfileIndex.build(subscribers.active_profiles(session))
            added += matches.save_matches(session, index.match(new_papers, trending), now)
            papers.mark_matched(session, [p.id for p in new_papers], now)
        changed = subscribers.profiles_needing_backfill(session)
        if changed:
            # A new or edited profile sees the recent papers at once: the first digest is not empty.
            # Unsent matches of the old profile go: the person may have dropped that interest.
            matches.drop_unsent(session, [subscriber_id for subscriber_id, _ in changed])
            index = ProfileIndex.build(changed)
            recent = papers.recent_papers(session, now - timedelta(days=recent_days))
            added += matches.save_matches(session, index.match(recent, trending), now)
            subscribers.mark_backfilled(session, [subscriber_id for subscriber_id, _ in changed], now)
    return MatchReport(len(new_papers), len(changed), added)
