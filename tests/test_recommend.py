"""The reader models (bot/recommend): features fitted once per day, a model per reader, scores for all at once."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
from readerworld import topic_papers

from bot.recommend import (CLASSIFIER, NEIGHBOURS, day_features, fit_features, fit_reader, score_readers,
                           similar_papers)
from bot.recommend.readers import soft_negatives

PAPERS = topic_papers({"cs.CV": 30, "cs.CL": 60})
VISION = sorted(p.id for p in PAPERS if p.categories == ("cs.CV",))
LANGUAGE = sorted(p.id for p in PAPERS if p.categories == ("cs.CL",))
IDS = [p.id for p in PAPERS]


def test_features_are_fitted_once_per_day_and_set_of_papers():
    first = day_features(date(2026, 11, 27), PAPERS)
    assert day_features(date(2026, 11, 27), list(reversed(PAPERS))) is first  # the same set: no second pass
    assert day_features(date(2026, 11, 28), PAPERS) is not first  # a new day refits
    assert day_features(date(2026, 11, 28), PAPERS[:-1]) is not first
    norms = np.sqrt(np.asarray(first.matrix.multiply(first.matrix).sum(axis=1))).ravel()
    assert np.allclose(norms, 1.0, atol=1e-5)  # a dot product of two rows is their cosine


def test_categories_are_not_features_unless_asked():
    relabelled = [replace(p, categories=("math.AG",)) for p in PAPERS]
    plain, again = fit_features(PAPERS), fit_features(relabelled)
    assert (plain.matrix != again.matrix).nnz == 0
    assert (fit_features(PAPERS, with_categories=True).matrix != fit_features(relabelled, with_categories=True)
            .matrix).nnz > 0


def test_few_likes_give_neighbours_more_give_a_classifier_no_like_gives_nothing():
    features = fit_features(PAPERS)
    negatives = soft_negatives(features, IDS)
    assert fit_reader(features, 1, {LANGUAGE[0]: -1}, negatives) is None
    assert fit_reader(features, 1, {"arxiv:9999.99999": 1}, negatives) is None  # a paper the features do not hold
    assert fit_reader(features, 1, {VISION[0]: 1, VISION[1]: 1}, negatives).kind == NEIGHBOURS
    model = fit_reader(features, 1, {p: 1 for p in VISION[:3]} | {LANGUAGE[0]: -1}, negatives)
    assert model.kind == CLASSIFIER and model.voted == frozenset([*VISION[:3], LANGUAGE[0]])


def test_readers_get_their_topic_never_a_voted_or_taken_paper_at_most_three():
    features = fit_features(PAPERS)
    votes = {1: {p: 1 for p in VISION[:3]} | {VISION[3]: -1}, 2: {LANGUAGE[0]: 1}, 3: {LANGUAGE[1]: -1}}
    taken = {1: set(VISION[4:8])}
    results = {r.subscriber_id: r for r in score_readers(features, votes, IDS, wanted={1: [VISION[9], LANGUAGE[5]]},
                                                          taken=taken)}
    assert set(results) == {1, 2}  # only dislikes: no model
    vision, language = results[1], results[2]
    assert (vision.kind, language.kind) == (CLASSIFIER, NEIGHBOURS)
    assert len(vision.suggestions) == 3 and all(s.paper_id in VISION for s in vision.suggestions)
    assert not {s.paper_id for s in vision.suggestions} & {*VISION[:8]}  # never voted on, never matched already
    assert all(s.liked in VISION[:3] for s in vision.suggestions)
    assert all(s.paper_id in LANGUAGE and s.liked == LANGUAGE[0] for s in language.suggestions)
    assert vision.learned[VISION[9]] > vision.learned[LANGUAGE[5]]  # the scores that order a digest
    scores = [s.score for s in vision.suggestions]
    assert scores == sorted(scores, reverse=True)


def test_chunks_give_the_same_scores_as_one_pass():
    features = fit_features(PAPERS)
    votes = {n: {p: 1 for p in (VISION if n % 2 else LANGUAGE)[n % 5:n % 5 + 1 + n % 4]} for n in range(12)}
    whole = list(score_readers(features, votes, IDS, wanted={n: IDS[:5] for n in votes}))
    chunked = list(score_readers(features, votes, IDS, wanted={n: IDS[:5] for n in votes}, chunk=5))
    def picked(results):  # float sums in another order differ in the last digits only
        return [(r.subscriber_id, [(s.paper_id, s.liked) for s in r.suggestions]) for r in results]

    assert picked(whole) == picked(chunked) and len(whole) == 12
    for a, b in zip(whole, chunked):
        assert all(abs(a.learned[p] - b.learned[p]) < 1e-4 for p in a.learned) and a.learned.keys() == b.learned.keys()


def test_similar_papers_are_of_the_same_topic_and_never_the_paper_itself():
    features = fit_features(PAPERS)
    found = similar_papers(features, [VISION[0], "arxiv:9999.99999"], IDS)
    assert list(found) == [VISION[0]]
    assert found[VISION[0]] and found[VISION[0]] <= set(VISION) - {VISION[0]}


def test_the_offline_evaluation_beats_the_base_rate():
    sys.path.insert(0, str(Path(__file__).parent / "bench"))
    import eval_recommend

    rows = eval_recommend.run(draws=4)
    for row in rows["words only"]:
        assert row.readers > 0
        assert row.precision[3] > 2 * row.base_rate and row.precision[5] > 1.5 * row.base_rate, row
    for row in rows["words + categories"]:  # the labels as features: near perfect, which is why they are left out
        assert row.precision[3] > 0.8, row
