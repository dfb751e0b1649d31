"""Highlighting: segments of a text from hit spans, snippets around the hits, and "why" lines."""

from __future__ import annotations

from bot.digest.highlight import ELLIPSIS, highlight_spans, snippet, spans_of, why
from bot.models import Hit, Match, Paper
from bot.profile import search


def test_segments_rebuild_the_text_and_merge_overlaps() -> None:
    text = "Reward models for RLHF"
    segments = highlight_spans(text, [(18, 22), (0, 6), (3, 13), (40, 50)])
    assert segments == [("Reward models", True), (" for ", False), ("RLHF", True)]
    assert "".join(s for s, _ in segments) == text
    assert highlight_spans(text, []) == [(text, False)]
    assert highlight_spans("", [(0, 3)]) == []


def test_snippet_is_a_window_around_the_first_hit() -> None:
    words = [f"word{i:03d}" for i in range(100)]
    text = " ".join(words)  # 8 characters a word, 9 with its space
    start = text.index("word050")
    segments = snippet(text, [(start, start + 7)], width=100)
    body = "".join(s for s, _ in segments)
    assert segments[0] == (ELLIPSIS, False) and segments[-1] == (ELLIPSIS, False)
    assert ("word050", True) in segments
    inner = body.strip(ELLIPSIS)
    assert len(inner) <= 100 and inner.split()[0] in words and inner.split()[-1] in words
    assert body.index("word050") < 60  # the hit sits in the first part of the window
    assert snippet("short text", [(0, 5)]) == [("short", True), (" text", False)]
    no_hit = snippet(text, [], width=50)
    assert no_hit[0][0].startswith("word000") and no_hit[-1] == (ELLIPSIS, False)


def test_why_names_terms_and_places() -> None:
    match = Match(1, "p", 0.0, ("x",), (
        Hit("reward model", "title", 0, 13), Hit("RLHF", "abstract", 3, 7),
        Hit("RLHF", "title", 20, 24), Hit("hinton", "authors", 0, 6), Hit("cs.CL", "categories", 0, 5),
        Hit("DPO", "abstract", 9, 12), Hit("PPO", "abstract", 14, 17)))
    assert why(match) == ('matched "reward model" in the title, RLHF in the title and abstract, '
                          "hinton in the authors, cs.CL in the categories, DPO and PPO in the abstract")
    trending = Match(1, "p", 0.0, ("x",), (Hit("trending", "trending"),))
    assert why(trending) == "trending today"
    both = Match(1, "p", 0.0, ("x",), (Hit("RLHF", "abstract", 0, 4), Hit("trending", "trending")))
    assert why(both) == "matched RLHF in the abstract, and trending today"


def test_from_search_to_highlighted_title() -> None:
    paper = Paper(id="p", title="Fine-Tuning Reward Models", abstract="We study $\\alpha$-divergence for RLHF.")
    [match] = search('"reward model" OR alpha-divergence', [paper])
    assert highlight_spans(paper.title, spans_of(match.hits, "title")) == [
        ("Fine-Tuning ", False), ("Reward Models", True)]
    assert [s for s, hit in highlight_spans(paper.abstract, spans_of(match.hits, "abstract")) if hit] == [
        "alpha$-divergence"]
    assert why(match) == 'matched "reward model" in the title, alpha-divergence in the abstract'
