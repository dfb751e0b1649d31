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


PAPERS_PER_COMMIT = 100  # a broad day stores millions of matches: bounded transactions, bounded memory
PROFILES_PER_COMMIT = 500


def match_pending(db: Database, now: datetime, *, recent_days: int, trending_top: int) -> MatchReport:
    """Match what is new since the last run; each pair is stored once, whatever runs twice.

    Work is committed in chunks (papers, then changed profiles): each chunk stores its
    matches and marks its papers (or profiles) done in one transaction, so a crash
    between chunks loses nothing and redoes nothing, and no transaction grows with the day.
    """
    with db.session() as session:
        trending = current_trending(session, now, trending_top)
        new_papers = papers.unmatched_papers(session)
        changed = subscribers.profiles_needing_backfill(session)
        recent = papers.recent_papers(session, now - timedelta(days=recent_days)) if changed else []
        # A changed profile is run over the recent papers (today's new ones among them) below, after its
        # unsent matches are dropped: it needs no place in the index of the new papers.
        backfilled = {subscriber_id for subscriber_id, _ in changed}
        index = ProfileIndex.build([p for p in subscribers.active_profiles(session)
                                    if p[0] not in backfilled]) if new_papers else None
    added = 0
    for start in range(0, len(new_papers), PAPERS_PER_COMMIT):
        chunk = new_papers[start:start + PAPERS_PER_COMMIT]
        with db.session() as session:
            added += matches.save_matches(session, index.match(chunk, trending), now)  # type: ignore[union-attr]
            papers.mark_matched(session, [p.id for p in chunk], now)
    for start in range(0, len(changed), PROFILES_PER_COMMIT):
        group = changed[start:start + PROFILES_PER_COMMIT]
        ids = [subscriber_id for subscriber_id, _ in group]
        with db.session() as session:
            # A new or edited profile sees the recent papers at once: the first digest is not empty.
            # Unsent matches of the old profile go in the same transaction: the person may have dropped that interest.
            matches.drop_unsent(session, ids)
            added += matches.save_matches(session, ProfileIndex.build(group).match(recent, trending), now)
            subscribers.mark_backfilled(session, ids, now)
    return MatchReport(len(new_papers), len(changed), added)
