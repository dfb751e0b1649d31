"""Ranking: title hits over abstract hits, more interests over fewer, then upvotes, then recency."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.models import Hit, Match, Paper
from bot.profile import ProfileIndex, search
from bot.digest.ranking import rank, score

T = Hit("rlhf", "title", 0, 4)
A = Hit("rlhf", "abstract", 0, 4)
A2 = Hit("reward", "abstract", 5, 11)


def day(n: int) -> datetime:
    return datetime(2024, 10, n, tzinfo=UTC)


def test_score_orders_the_criteria() -> None:
    assert score([T], 1, None) > score([A, A2], 2, 500)  # a title hit beats more interests and upvotes
    assert score([A], 2, None) > score([A, A2], 1, 500)  # more interests beat more terms and upvotes
    assert score([A, A2], 1, None) > score([A], 1, 500)  # more distinct terms beat upvotes
    assert score([A], 1, 10) > score([A], 1, 3) > score([A], 1, None) == score([A], 1, 0)
    assert score([A], 1, 10**9) < score([A, A2], 1, None)  # popularity never outweighs relevance


def test_rank_sorts_best_first_with_current_upvotes_and_recency() -> None:
    papers = {
        "old": Paper(id="old", title="x", published=day(1)),
        "new": Paper(id="new", title="x", published=day(3)),
        "hot": Paper(id="hot", title="x", published=day(2), upvotes=40),
        "title": Paper(id="title", title="x", published=day(1)),
    }
    matches = [Match(1, pid, 0.0, ("rlhf",), (T,) if pid == "title" else (A,)) for pid in papers]
    ranked = rank(matches, papers)
    assert [m.paper_id for m in ranked] == ["title", "hot", "new", "old"]
    assert [m.score for m in ranked] == sorted((m.score for m in ranked), reverse=True)
    assert ranked[1].score == score([A], 1, 40)


def test_index_scores_and_search_ranks() -> None:
    batch = [
        Paper(id="a", title="Diffusion", abstract="RLHF for reward models", published=day(1)),
        Paper(id="b", title="RLHF at scale", abstract="nothing else", published=day(1)),
        Paper(id="c", title="Diffusion", abstract="RLHF again", published=day(2), upvotes=12),
    ]
    [m] = [m for m in ProfileIndex.build([(3, ["rlhf", "reward"])]).match(batch) if m.paper_id == "a"]
    assert m.score == score(m.hits, 2, None)
    assert [m.paper_id for m in search("rlhf", batch)] == ["b", "c", "a"]


def test_a_learned_score_reorders_within_a_band_and_never_across() -> None:
    papers = {pid: Paper(id=pid, title="x", published=day(n)) for n, pid in enumerate(("a", "b", "c", "d"), 1)}
    matches = [Match(1, "a", 0.0, ("rlhf",), (T,), learned=-1.0),  # title hit: the top band whatever it learned
               Match(1, "b", 0.0, ("rlhf",), (A,), learned=0.2),
               Match(1, "c", 0.0, ("rlhf",), (A, A2), learned=0.9),  # one more term: same band, ties broken by learned
               Match(1, "d", 0.0, ("rlhf",), (A,), learned=None)]
    assert [m.paper_id for m in rank(matches, papers)] == ["a", "c", "b", "d"]
    unlearned = [Match(m.subscriber_id, m.paper_id, m.score, m.interests, m.hits) for m in matches]
    assert [m.paper_id for m in rank(unlearned, papers)] == ["a", "c", "d", "b"]  # without votes: keyword order
