"""Cost of the reader models on a day of issue 14: 20,000 subscribers, 5,000 of whom voted.

The papers are bench_matching.py's generator (realistic length and word frequencies): ~1,000 recent
papers (the votes fall on them) and a day's 1,000 new ones. Each voter gave 3-20 votes (about one in
four "not for me") and has ~28 unsent keyword matches among the new papers, which the learn step
scores; suggestions come from all 2,000. Each stage runs in a fresh process so that its peak RSS is
its own: the vectoriser fit alone, the bare scikit-learn TfidfVectorizer on the same texts (the
ceiling: the ratio is what compares across machines), and the whole learn computation (fit, a model
per voter, scores and suggestions for all). The budget: at most 30 s and 300 MB.

    python tests/bench/bench_recommend.py [--voters 5000] [--recent 1000] [--new 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

SEED = 20261214
SUBSCRIBERS = 20_000


def world(voters: int, recent: int, new: int):  # type: ignore[no-untyped-def]
    """The papers, and per voter their votes and their unsent keyword matches (fixed seed)."""
    from bench_matching import make_papers, vocabulary

    rng = random.Random(SEED)
    vocab = vocabulary(rng)
    weights = [1 / (i + 1) for i in range(len(vocab))]
    papers = make_papers(rng, vocab, weights, recent + new, share=0.045)
    old, today = [p.id for p in papers[:recent]], [p.id for p in papers[recent:]]
    votes, wanted = {}, {}
    for reader in rng.sample(range(SUBSCRIBERS), voters):
        given = rng.sample(old, rng.randint(3, 20))
        votes[reader] = {p: (-1 if rng.random() < 0.25 else 1) for p in given}
        wanted[reader] = rng.sample(today, 28)
    return papers, votes, wanted


def stage(name: str, voters: int, recent: int, new: int) -> dict[str, float]:
    """Run one stage in this process; its wall time, CPU time and this process's peak RSS."""
    papers, votes, wanted = world(voters, recent, new)
    import numpy as np  # noqa: F401 - the libraries load before the clock starts, as in a worker
    from sklearn.feature_extraction.text import TfidfVectorizer

    from bot.recommend import fit_features, score_readers
    from bot.recommend.features import paper_text

    baseline = _rss_mb()  # the libraries and the day's papers, as a worker holds them before the step
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    out: dict[str, float] = {}
    if name == "bare vectoriser":
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2, max_df=0.5, max_features=20_000,
                        stop_words="english").fit_transform([paper_text(p) for p in papers])
    elif name == "vectoriser fit":
        out["features"] = fit_features(papers).matrix.shape[1]
    else:
        features = fit_features(papers)
        ids = [p.id for p in papers]
        results = list(score_readers(features, votes, ids, wanted=wanted,
                                     taken={r: set(w) for r, w in wanted.items()}))
        out["readers"] = len(results)
        out["suggestions"] = sum(len(r.suggestions) for r in results)
        out["classifiers"] = sum(r.kind == "classifier" for r in results)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {**out, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "rss_before_mb": round(baseline, 1),
            "peak_rss_mb": round(after.ru_maxrss / 1024, 1)}


def _rss_mb() -> float:
    """This process's resident set now (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voters", type=int, default=5000)
    parser.add_argument("--recent", type=int, default=1000)
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--stage", help=argparse.SUPPRESS)  # the child's side
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(stage(args.stage, args.voters, args.recent, args.new)))
        return
    rows = {}
    for name in ("bare vectoriser", "vectoriser fit", "learn step"):
        done = subprocess.run([sys.executable, __file__, "--stage", name, "--voters", str(args.voters),
                               "--recent", str(args.recent), "--new", str(args.new)],
                              capture_output=True, text=True, check=True)
        rows[name] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{SUBSCRIBERS} subscribers, {args.voters} voted; {args.recent} recent + {args.new} new papers")
    print(f"{'stage':<16} {'wall s':>7} {'cpu s':>7} {'RSS before MB':>14} {'peak RSS MB':>12}  notes")
    for name, row in rows.items():
        notes = ", ".join(f"{k} {v:g}" for k, v in row.items()
                          if k not in ("wall_s", "cpu_s", "peak_rss_mb", "rss_before_mb"))
        print(f"{name:<16} {row['wall_s']:>7.2f} {row['cpu_s']:>7.2f} {row['rss_before_mb']:>14.1f} "
              f"{row['peak_rss_mb']:>12.1f}  {notes}")
    ratio = rows["vectoriser fit"]["wall_s"] / max(rows["bare vectoriser"]["wall_s"], 1e-9)
    print(f"vectoriser fit / bare scikit-learn: {ratio:.2f}; budget for the learn step: 30 s, 300 MB")


if __name__ == "__main__":
    main()
