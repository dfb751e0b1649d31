"""Offline evaluation of the reader models on real arXiv papers: do readers who liked k papers of a
category get the other papers of that category?

The labelled papers are the real feeds in tests/fixtures (parsed with the project's parsers); a
paper's labels are its arXiv categories but cs.AI (the feed's own category, which every paper has).
The seed papers (seeds/papers.json) are more unlabelled text for the TF-IDF fit. For each category
with enough papers and each k in 1, 3, 5, readers are drawn who liked k papers of it; each gets its
model's top 3 and top 5 among the other labelled papers (no threshold: ranking is what is measured
here), and precision at 3 and 5 is compared with the category's base rate (the share of the other
papers in it: what a random pick would score). "shipped" is what the digest would get: suggestions
per reader with the shipped floors (at most 3), and their precision. The model reads no category by default (they are the
labels); the same run with categories as features is reported apart, as a ceiling.

    python tests/bench/eval_recommend.py [--draws 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.models import Paper  # noqa: E402
from bot.recommend import fit_features, score_readers  # noqa: E402
from bot.recommend.readers import MIN_LIKES_FOR_CLASSIFIER  # noqa: E402
from bot.sources.parsing import parse_feed  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
FEED_CATEGORY = "cs.AI"
KS = (1, 3, 5)
AT = (3, 5)
NO_THRESHOLD = {"classifier": float("-inf"), "neighbours": float("-inf")}


def labelled_papers() -> list[Paper]:
    """The fixture feeds' papers, once each (a paper in two feeds keeps its first reading)."""
    sources = [("arxiv", "arxiv_rss_atom_new_format.xml"), ("arxiv-api", "arxiv_api_atom.xml"),
               ("arxiv", "arxiv_rss_old_rdf.xml"), ("arxiv", "arxiv_rss2_docs_example.xml"),
               ("hf", "hf_daily_papers.json")]
    found: dict[str, Paper] = {}
    for kind, name in sources:
        for paper in parse_feed(kind, (FIXTURES / name).read_bytes()).papers:
            if paper.abstract and paper.categories:
                found.setdefault(paper.id, paper)
    return list(found.values())


def seed_papers() -> list[Paper]:
    return parse_feed("hf", (ROOT / "seeds" / "papers.json").read_bytes()).papers


def labels(paper: Paper) -> set[str]:
    return set(paper.categories) - {FEED_CATEGORY}


@dataclass(frozen=True)
class Row:
    k: int
    model: str  # the model kind readers with k likes get
    categories: int
    readers: int
    precision: dict[int, float]  # at N
    base_rate: float
    shipped: float = 0.0  # with the shipped floors and at most 3: suggestions per reader
    shipped_precision: float = 0.0  # and the share of those in the category


def evaluate(papers: Sequence[Paper], unlabelled: Sequence[Paper], *, with_categories: bool, draws: int,
             seed: int = 14) -> list[Row]:
    """Precision at 3 and 5 per k (macro over categories), and the mean base rate of those categories."""
    features = fit_features([*papers, *unlabelled], with_categories=with_categories)
    ids = [p.id for p in papers]
    by_category: dict[str, list[str]] = {}
    for paper in papers:
        for category in labels(paper):
            by_category.setdefault(category, []).append(paper.id)
    rng = random.Random(seed)
    rows = []
    for k in KS:
        usable = sorted(c for c, members in by_category.items() if len(members) >= k + max(AT))
        hits = {n: [] for n in AT}
        rates = []
        readers = 0
        made: list[bool] = []
        for category in usable:
            members = sorted(by_category[category])
            votes = {n: {p: 1 for p in rng.sample(members, k)} for n in range(draws)}
            per_category = {n: [] for n in AT}
            for result in score_readers(features, votes, ids):
                made.extend(s.paper_id in set(members) for s in result.suggestions)
            for result in score_readers(features, votes, ids, limit=max(AT), thresholds=NO_THRESHOLD,
                                        similarity_floor=float("-inf")):
                picked = [s.paper_id for s in result.suggestions]
                for n in AT:
                    per_category[n].append(sum(p in set(members) for p in picked[:n]) / n)
                readers += 1
            for n in AT:
                hits[n].append(sum(per_category[n]) / len(per_category[n]))
            rates.append((len(members) - k) / (len(ids) - k))
        rows.append(Row(k, "classifier" if k >= MIN_LIKES_FOR_CLASSIFIER else "neighbours", len(usable), readers,
                        {n: sum(v) / len(v) for n, v in hits.items()}, sum(rates) / len(rates),
                        len(made) / readers, sum(made) / len(made) if made else 0.0))
    return rows


def print_table(title: str, rows: list[Row]) -> None:
    print(f"\n{title}")
    print(f"{'k':>3} {'model':<11} {'categories':>10} {'readers':>7} {'P@3':>6} {'P@5':>6} {'base rate':>9} "
          f"{'lift@5':>7} {'shipped':>7} {'its P':>6}")
    for r in rows:
        print(f"{r.k:>3} {r.model:<11} {r.categories:>10} {r.readers:>7} {r.precision[3]:>6.2f} {r.precision[5]:>6.2f} "
              f"{r.base_rate:>9.2f} {r.precision[5] / r.base_rate:>7.1f} {r.shipped:>7.2f} {r.shipped_precision:>6.2f}")


def run(draws: int) -> dict[str, list[Row]]:
    papers, unlabelled = labelled_papers(), seed_papers()
    return {"words only": evaluate(papers, unlabelled, with_categories=False, draws=draws),
            "words + categories": evaluate(papers, unlabelled, with_categories=True, draws=draws)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=30, help="Readers drawn per category and k.")
    parser.add_argument("--json", action="store_true", help="One JSON object per row instead of the tables.")
    args = parser.parse_args()
    results = run(args.draws)
    if args.json:
        for variant, rows in results.items():
            for r in rows:
                print(json.dumps({"features": variant, **r.__dict__}))
        return
    papers = labelled_papers()
    print(f"{len(papers)} labelled papers (tests/fixtures), {len(seed_papers())} unlabelled (seeds/), "
          f"labels: arXiv categories but {FEED_CATEGORY}")
    for variant, rows in results.items():
        print_table(f"features: {variant}" + (" (the labels: a ceiling, not the model)" if "categories" in variant
                                              else " (the model as shipped)"), rows)


if __name__ == "__main__":
    main()
