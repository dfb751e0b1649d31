"""The index gives exactly the reference evaluator's answers, on random profiles and papers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.digest.evidence import with_hits
from bot.errors import QueryError
from bot.models import Paper
from bot.profile import ProfileIndex, evaluate, parse_interest, trending_ids

# A tiny vocabulary so that random interests and random papers share words often, with the
# traps of the language: plurals, prefixes of other words, accents, hyphens, TeX and HTML.
WORDS = ["model", "models", "query", "queries", "process", "processes", "rl", "rlhf", "url",
         "reward", "align", "alignment", "aligned", "fine", "tuning", "sinkhorn", "Sínkhorn",
         "graph", "graphs", "survey", "cs", "diffusion", "lm", "lms"]
SEPARATORS = [" ", " ", " ", "-", ", ", ". ", " $\\alpha$-", " <i>", "</i> ", "/"]
NAMES = ["Geoffrey Hinton", "Zoë Müller", "Yann LeCun", "Ana Sinkhorn", "Li Wei"]
CATEGORIES = ["cs.CL", "cs.LG", "cs.AI", "stat.ML", "math.OC"]


# Each piece is a separator and a word in some case: one draw per word keeps generation fast.
PIECES = [sep + form for word in WORDS for form in {word, word.upper(), word.title()} for sep in SEPARATORS]


def texts(max_words: int = 12) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(PIECES), max_size=max_words).map(lambda pieces: "".join(pieces).strip())


@st.composite
def papers(draw: st.DrawFn) -> list[Paper]:
    count = draw(st.integers(1, 6))
    return [
        Paper(
            id=f"p{i}",
            title=draw(texts(6)),
            abstract=draw(texts()),
            authors=tuple(draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))),
            categories=tuple(draw(st.lists(st.sampled_from(CATEGORIES), max_size=3, unique=True))),
        )
        for i in range(count)
    ]


def _leaf(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["word", "word", "word", "phrase", "prefix", "field", "author", "cat", "trending",
                                 "like"]))
    word = draw(st.sampled_from(WORDS))
    if kind == "phrase":
        return '"' + " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))) + '"'
    if kind == "prefix":
        return word[: draw(st.integers(3, max(3, len(word))))] + "*" if len(word) >= 3 else word
    if kind == "field":
        return draw(st.sampled_from(["ti:", "abs:"])) + word
    if kind == "author":
        return "au:" + draw(st.sampled_from(["hinton", "muller", '"yann lecun"', "sinkhorn", "li"]))
    if kind == "cat":
        return "cat:" + draw(st.sampled_from(["cs.CL", "cs.*", "stat.ML", "math.*"]))
    if kind == "trending":
        return "is:trending"
    if kind == "like":
        return "like:" + draw(st.sampled_from(LIKE_FORMS))
    return word


@st.composite
def interests(draw: st.DrawFn, depth: int = 2) -> str:
    if depth == 0 or draw(st.booleans()):
        return _leaf(draw)
    parts = [draw(interests(depth=depth - 1)) for _ in range(draw(st.integers(2, 3)))]
    parts = [("-" + p if i and draw(st.integers(0, 3)) == 0 else p) for i, p in enumerate(parts)]
    shape = draw(st.sampled_from(["and", "or", "group"]))
    if shape == "and":
        return " ".join(parts)
    if shape == "or":
        return " OR ".join(p.lstrip("-") for p in parts)
    return f"{parts[0]} ({' OR '.join(p.lstrip('-') for p in parts[1:])})"


profiles = st.lists(st.tuples(st.integers(1, 8), st.lists(interests(), min_size=1, max_size=3)),
                    max_size=6, unique_by=lambda p: p[0])


LIKE_FORMS = ["2401.00001", "arxiv:2401.00001v2", "arxiv:2401.00002"]
LIKED = ["arxiv:2401.00001", "arxiv:2401.00002"]


def similar_sets(data: st.DataObject, batch: list[Paper]) -> dict[str, frozenset[str]]:
    """For each liked paper, the batch's papers alike to it (what bot/recommend would say)."""
    ids = [p.id for p in batch]
    return {liked: frozenset(data.draw(st.sets(st.sampled_from(ids)))) for liked in LIKED}


def fresh_likes(profile_list: list[tuple[int, list[str]]]) -> set[str]:
    """The liked paper ids of the valid lines of some profiles, as a fresh index holds them."""
    return ProfileIndex.build(profile_list).liked_papers()


def reference(profile_list: list[tuple[int, list[str]]], batch: list[Paper], hot: frozenset[str],
              similar: dict[str, frozenset[str]] | None = None) -> dict:
    """(subscriber, paper) -> (interests, hits) by evaluating each valid interest on each paper."""
    out: dict = {}
    for sid, lines in profile_list:
        for paper in batch:
            matched, hits = [], set()
            for line in lines:
                try:
                    node = parse_interest(line)
                except QueryError:
                    continue
                found = evaluate(node, paper, hot, similar)
                if found is not None:
                    matched.append(line)
                    hits.update(found)
            if matched:
                out[(sid, paper.id)] = (tuple(dict.fromkeys(matched)), hits)
    return out


def indexed(index: ProfileIndex, batch: list[Paper], hot: frozenset[str],
            similar: dict[str, frozenset[str]] | None = None) -> dict:
    return {(m.subscriber_id, m.paper_id): (m.interests, set(m.hits)) for m in index.match(batch, hot, similar)}


def compact(index: ProfileIndex, batch: list[Paper], hot: frozenset[str],
            similar: dict[str, frozenset[str]] | None = None) -> dict:
    """(subscriber, paper) -> interests, read from the compact result without making any Match."""
    sets = index.match_sets(batch, hot, similar=similar)
    out = {}
    for sid in sets.subscribers():
        bits = sets.paper_bits(sid)
        assert bits, "a listed subscriber matches something"
        for i, paper in enumerate(batch):
            if bits >> i & 1:
                out[(sid, paper.id)] = sets.interests(sid, i)
            else:
                assert sets.interests(sid, i) == ()
        assert sets.papers_of(sid) == [p.id for i, p in enumerate(batch) if bits >> i & 1]
    assert len(sets) == len(out) and sorted(sets.pairs()) == sorted(out)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles, papers(), st.data())
def test_index_equals_reference(profile_list, batch, data) -> None:
    hot = frozenset(data.draw(st.sets(st.sampled_from([p.id for p in batch]))))
    similar = similar_sets(data, batch)
    index = ProfileIndex.build(profile_list)
    expected = reference(profile_list, batch, hot, similar)
    assert indexed(index, batch, hot, similar) == expected
    assert compact(index, batch, hot, similar) == {pair: lines for pair, (lines, _) in expected.items()}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles, st.lists(st.tuples(st.integers(1, 8), st.one_of(st.none(), st.lists(interests(), max_size=3)))),
       papers())
def test_updates_equal_a_fresh_build(start, changes, batch) -> None:
    index = ProfileIndex.build(start)
    state = dict(start)
    for sid, lines in changes:
        if lines is None:
            index.remove(sid)
            state.pop(sid, None)
        else:
            index.replace(sid, lines)
            state[sid] = lines
    final = sorted(state.items())
    alike = {liked: frozenset(p.id for p in batch[::2]) for liked in LIKED}  # a `like:` dropped leaves no atom behind
    expected = reference(final, batch, frozenset(), alike)
    assert indexed(index, batch, frozenset(), alike) == expected
    assert compact(index, batch, frozenset(), alike) == {pair: lines for pair, (lines, _) in expected.items()}
    assert index.liked_papers() == fresh_likes(final)
    fresh = ProfileIndex.build(final)
    assert len(index.atoms.ids) == len(fresh.atoms.ids)  # nothing leaks when profiles change


def test_rejected_lines_are_listed_and_the_rest_indexed() -> None:
    index = ProfileIndex.build([(1, ["rlhf", '"open', "", "-survey"]), (2, ["reward"])])
    assert [(r.subscriber_id, r.line, r.text, str(r.error)) for r in index.rejected] == [
        (1, 2, '"open', "unclosed quote at column 1"),
        (1, 4, "-survey", "an interest needs at least one term that is not excluded"),
    ]
    paper = Paper(id="p", title="RLHF reward models")
    assert sorted((m.subscriber_id, m.interests) for m in index.match([paper])) == [(1, ("rlhf",)), (2, ("reward",))]
    index.replace(1, ["diffusion"])
    assert index.rejected == []
    assert [m.subscriber_id for m in index.match([paper])] == [2]
    index.remove(2)
    assert index.match([paper]) == [] and len(index) == 1


def test_one_match_per_subscriber_and_paper_with_every_interest() -> None:
    index = ProfileIndex.build([(7, ["rlhf", "ti:reward", "diffusion", "reward model"])])
    [match] = index.match([Paper(id="p", title="Reward models", abstract="We study RLHF.")])
    assert match.interests == ("rlhf", "ti:reward", "reward model")
    assert [(h.term, h.field) for h in match.hits] == [
        ("reward", "title"), ("model", "title"), ("rlhf", "abstract")]


def test_match_sets_say_who_matches_what_before_any_match_is_made() -> None:
    index = ProfileIndex.build([(1, ["rlhf", "reward"]), (2, ["diffusion"]), (3, ["reward OR diffusion"])])
    batch = [Paper(id="a", title="RLHF reward models"), Paper(id="b", title="Diffusion"), Paper(id="c", title="Sorting")]
    sets = index.match_sets(batch)
    assert sorted(sets.subscribers()) == [1, 2, 3] and len(sets) == 4
    assert sets.papers_of(1) == ["a"] and sets.papers_of(3) == ["a", "b"] and sets.papers_of(9) == []
    assert sets.paper_bits(2) == 0b010
    assert sets.interests(1, 0) == ("rlhf", "reward") and sets.interests(1, 1) == ()
    assert sorted((m.subscriber_id, m.paper_id, m.interests) for m in sets.matches()) == [
        (1, "a", ("rlhf", "reward")), (2, "b", ("diffusion",)),
        (3, "a", ("reward OR diffusion",)), (3, "b", ("reward OR diffusion",))]


def test_hits_come_from_the_satisfied_side_of_an_or_only() -> None:
    index = ProfileIndex.build([(1, ["reward (model OR policy gradient)"])])
    [match] = index.match([Paper(id="p", title="Reward policy models")])
    assert [h.term for h in match.hits] == ["reward", "model"]  # `policy` alone does not satisfy its side


def test_accented_and_marked_up_text_keeps_spans_into_the_displayed_text() -> None:
    title = "Sch\\\"olkopf and <i>Sínkhorn</i> models"
    index = ProfileIndex.build([(1, ["sinkhorn model", "ti:scholkopf"])])
    [match] = index.match([Paper(id="p", title=title)])
    assert [title[h.start:h.end] for h in match.hits] == ['Sch\\"olkopf', "Sínkhorn", "models"]


def test_trending_is_the_top_n_per_day_among_papers_with_upvotes() -> None:
    day1, day2 = date(2024, 10, 24), date(2024, 10, 25)
    rows = [("a", day1, 50), ("b", day1, 10), ("c", day1, 30), ("d", day1, None), ("e", day1, 0),
            ("f", day2, 5), ("g", day2, None), ("h", day2, 5)]
    assert trending_ids(rows, 2) == {"a", "c", "f", "h"}
    assert trending_ids(rows, 1) == {"a", "f"}  # a tie is cut by id, whatever the order
    assert trending_ids(reversed(rows), 1) == {"a", "f"}
    assert trending_ids(rows, 10) == {"a", "b", "c", "f", "h"}
    assert trending_ids(rows, 0) == set()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles, papers(), st.booleans())
def test_hits_found_again_at_render_time_are_the_hits_of_matching(profile_list, batch, all_hot):
    """Stored matches keep no hits; `with_hits` finds them again from the interest lines and the paper."""
    hot = frozenset(p.id for p in batch) if all_hot else frozenset()
    similar = {liked: hot for liked in LIKED}  # `like:` is found again at render time as trending is
    if not all_hot:  # a paper that is not trending now may have been when it matched: compare what does not depend on it
        profile_list = [(sid, [line for line in lines if "is:trending" not in line and "like:" not in line])
                        for sid, lines in profile_list]
    made = ProfileIndex.build(profile_list).match(batch, hot, similar)
    stored = [replace(m, hits=()) for m in made]
    by_id = {p.id: p for p in batch}
    again = with_hits(stored, by_id)
    assert [(m.subscriber_id, m.paper_id, m.interests, m.hits) for m in again] == [
        (m.subscriber_id, m.paper_id, m.interests, m.hits) for m in made]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles, papers(), st.frozensets(st.sampled_from([f"p{i}" for i in range(6)])))
def test_stored_rows_are_the_matches_without_their_hits(profile_list, batch, hot):
    """What matching stores (MatchSets.rows) is each Match's subscriber, paper, score and lines, exactly."""
    sets = ProfileIndex.build(profile_list).match_sets(batch, hot)
    assert sorted(sets.rows()) == sorted((m.subscriber_id, m.paper_id, m.score, m.interests) for m in sets.matches())
