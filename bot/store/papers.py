"""Papers in the database: upsert by canonical id (one paper, once), queries for matching and listing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from bot.models import Paper
from bot.store.schema import PaperRow, PaperSourceRow, PaperTombstoneRow, SourceRow


@dataclass(frozen=True)
class UpsertCounts:
    new: int = 0
    updated: int = 0
    known: int = 0


def upsert_papers(session: Session, papers: Iterable[Paper], source_id: int | None, now: datetime) -> UpsertCounts:
    """Store each paper once: new ones are inserted, known ones merged (a new version never re-alerts).

    A pruned paper's id (a tombstone) counts as known and is not stored again: its v2 months
    later would otherwise be a new paper, matched and sent to everyone who got v1.
    """
    batch = list(papers)
    ids = list(dict.fromkeys(paper.id for paper in batch))
    pruned = set(session.scalars(select(PaperTombstoneRow.id).where(PaperTombstoneRow.id.in_(ids)))) if ids else set()
    known = sum(1 for paper in batch if paper.id in pruned)
    if pruned:
        batch = [paper for paper in batch if paper.id not in pruned]
        ids = [paper_id for paper_id in ids if paper_id not in pruned]
    # A few queries for the whole batch rather than a few per paper: a daily feed has hundreds of entries.
    rows = {row.id: row for row in session.scalars(select(PaperRow).where(PaperRow.id.in_(ids)))} if ids else {}
    linked: set[str] = set()
    if source_id is not None and ids:
        linked = set(session.scalars(select(PaperSourceRow.paper_id).where(
            PaperSourceRow.source_id == source_id, PaperSourceRow.paper_id.in_(ids))))
    new = updated = 0
    for paper in batch:
        row = rows.get(paper.id)
        if row is None:
            rows[paper.id] = row = _new_row(paper, now)
            session.add(row)
            new += 1
        elif _merge(row, paper, now):
            updated += 1
        else:
            known += 1
        if source_id is not None and paper.id not in linked:
            session.add(PaperSourceRow(paper_id=paper.id, source_id=source_id))
            linked.add(paper.id)
    session.flush()
    return UpsertCounts(new, updated, known)


def _new_row(paper: Paper, now: datetime) -> PaperRow:
    return PaperRow(
        id=paper.id, title=paper.title, abstract=paper.abstract, authors=list(paper.authors),
        categories=list(paper.categories), primary_category=paper.primary_category,
        published=paper.published, updated=paper.updated, version=paper.version, links=dict(paper.links),
        upvotes=paper.upvotes, announce_type=paper.announce_type, doi=paper.doi,
        journal_ref=paper.journal_ref, thumbnail=paper.thumbnail, first_seen=now, last_seen=now, matched_at=None,
    )


def _merge(row: PaperRow, paper: Paper, now: datetime) -> bool:
    """Fold a second sighting into the stored row; True when something a reader sees changed."""
    before = (row.version, row.title, row.abstract, row.authors, row.categories, row.links, row.upvotes, row.doi)
    newer = paper.version is not None and (row.version is None or paper.version > row.version)
    if newer:
        # The announcement feeds carry no `updated`: their date is the replacement's announcement.
        row.version, row.updated = paper.version, paper.updated or paper.published or row.updated
        row.title, row.abstract = paper.title or row.title, paper.abstract or row.abstract
        row.announce_type = paper.announce_type or row.announce_type
    if len(paper.authors) > len(row.authors or []):
        row.authors = list(paper.authors)  # the API's full list beats a shortened one
    if not row.abstract and paper.abstract:
        row.abstract = paper.abstract
    row.categories = list(dict.fromkeys([*(row.categories or []), *paper.categories]))
    row.links = {**(row.links or {}), **paper.links}
    if paper.upvotes is not None:
        row.upvotes = paper.upvotes
    row.primary_category = row.primary_category or paper.primary_category
    row.published = row.published or paper.published
    row.doi = row.doi or paper.doi
    row.journal_ref = row.journal_ref or paper.journal_ref
    row.thumbnail = row.thumbnail or paper.thumbnail
    if not newer and row.announce_type == "cross" and paper.announce_type == "new":
        row.announce_type = "new"  # the same announcement seen in its primary category's feed
    row.announce_type = row.announce_type or paper.announce_type
    row.last_seen = now
    return before != (row.version, row.title, row.abstract, row.authors, row.categories, row.links, row.upvotes, row.doi)


def to_paper(row: PaperRow | Row[Any]) -> Paper:
    return Paper(
        id=row.id, title=row.title, abstract=row.abstract, authors=tuple(row.authors or ()),
        categories=tuple(row.categories or ()), primary_category=row.primary_category,
        published=row.published, updated=row.updated, version=row.version, links=dict(row.links or {}),
        upvotes=row.upvotes, announce_type=row.announce_type, doi=row.doi, journal_ref=row.journal_ref,
        thumbnail=row.thumbnail,
    )


def unmatched_papers(session: Session) -> list[Paper]:
    """Papers that have not been run through the profile index yet."""
    rows = session.scalars(select(PaperRow).where(PaperRow.matched_at.is_(None)).order_by(PaperRow.id))
    return [to_paper(row) for row in rows]


def unmatched_ids(session: Session) -> set[str]:
    """The ids of the papers not run through the profile index yet (no match of theirs is known yet)."""
    return set(session.scalars(select(PaperRow.id).where(PaperRow.matched_at.is_(None))))


def stored_ids(session: Session, ids: Iterable[str]) -> set[str]:
    """Which of these paper ids are stored (`like:` names a stored paper)."""
    wanted = sorted(set(ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        found.update(session.scalars(select(PaperRow.id).where(PaperRow.id.in_(wanted[start:start + 500]))))
    return found


def mark_matched(session: Session, paper_ids: Sequence[str], now: datetime) -> None:
    """Record that these papers went through the profile index at `now` (one UPDATE per 500)."""
    ids = list(paper_ids)
    for start in range(0, len(ids), 500):
        session.execute(update(PaperRow).where(PaperRow.id.in_(ids[start:start + 500])).values(matched_at=now)
                        .execution_options(synchronize_session=False))


def recent_papers(session: Session, since: datetime) -> list[Paper]:
    """Papers first seen since `since`, newest first."""
    rows = session.scalars(select(PaperRow).where(PaperRow.first_seen >= since).order_by(PaperRow.first_seen.desc(), PaperRow.id))
    return [to_paper(row) for row in rows]


def list_papers(session: Session, since: datetime | None = None) -> list[tuple[Paper, list[str]]]:
    """Stored papers (newest first) with the names of the sources that brought each."""
    query = select(PaperRow).order_by(PaperRow.first_seen.desc(), PaperRow.published.desc(), PaperRow.id)
    if since is not None:
        query = query.where(PaperRow.first_seen >= since)
    papers = [to_paper(row) for row in session.scalars(query)]
    names: dict[str, list[str]] = {}
    pairs = session.execute(select(PaperSourceRow.paper_id, SourceRow.name).join(SourceRow, SourceRow.id == PaperSourceRow.source_id))
    for paper_id, name in pairs:
        names.setdefault(paper_id, []).append(name)
    return [(paper, sorted(names.get(paper.id, []))) for paper in papers]


def papers_by_id(session: Session, ids: Iterable[str]) -> dict[str, Paper]:
    """Many papers by id, as plain rows (a sender's batch needs a day's papers: no ORM object per paper)."""
    wanted = sorted(set(ids))
    found: dict[str, Paper] = {}
    for start in range(0, len(wanted), 500):  # stay under every backend's bound-parameter limit
        query = select(PaperRow.__table__).where(PaperRow.id.in_(wanted[start:start + 500]))
        found.update((row.id, to_paper(row)) for row in session.execute(query))
    return found


def upvote_days(session: Session, since: datetime) -> list[tuple[str, date, int | None]]:
    """(paper id, day first seen, upvotes) for the trending computation."""
    rows = session.execute(select(PaperRow.id, PaperRow.first_seen, PaperRow.upvotes).where(PaperRow.first_seen >= since))
    return [(paper_id, seen.date(), upvotes) for paper_id, seen, upvotes in rows]
