"""Benchmark of profile matching (a script, not collected by pytest): `python tests/bench/bench_matching.py`.

20,000 subscribers x 5 interests drawn from a generated vocabulary of ~3,000 machine-learning
terms of one to three words (phrases, exclusions, fields, prefixes, OR, categories) against
1,000 papers of ~1,200 characters. Prints, separately: the index build; reading the papers
(tokenise + find atoms); the match sets (who matches which paper through which lines); making
every Match with its hits and score; the whole `match()`; the peak memory of each; and the
ratio against a naive per-subscriber regex loop timed on a sample and scaled up. Everything
is generated from a fixed seed: runs are comparable.
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.models import Paper  # noqa: E402
from bot.profile import ProfileIndex, parse_interest  # noqa: E402
from bot.profile.nodes import And, Field, Node, Not, Or, Phrase, Prefix, Term, Trending  # noqa: E402
from bot.profile.reading import Reading  # noqa: E402

ROOTS = sorted(set("""attention transformer diffusion reward model policy gradient reinforcement learning language
vision graph neural network contrastive representation self supervised token embedding retrieval
augmented generation alignment preference optimization direct feedback human instruction tuning
fine adapter lora quantization pruning distillation knowledge sparse mixture expert routing
scaling law compute optimal benchmark evaluation robustness adversarial attack defense privacy
differential federated continual few shot zero prompt chain thought reasoning planning agent tool
multimodal image video audio speech text caption segmentation detection object tracking pose depth
estimation point cloud mesh rendering radiance field gaussian splatting implicit surface
variational autoencoder normalizing flow energy score matching denoising sampler latent space
manifold kernel bayesian inference uncertainty calibration conformal prediction causal discovery
counterfactual fairness bias interpretability saliency probing circuit mechanistic feature
neuron activation steering editing memory recurrent state linear convolution pooling
normalization dropout regularization optimizer adam momentum learning rate schedule warmup batch
loss landscape generalization overfitting double descent grokking emergent capability in context
retrieval dense passage ranking recommendation collaborative filtering click session sequential
time series forecasting anomaly tabular molecule protein structure docking drug design material
weather climate physics informed operator pde solver simulation robot manipulation locomotion
navigation imitation offline online bandit exploration curiosity world dynamics value function
actor critic proximal trust region monte carlo tree search game theory equilibrium auction
mechanism social choice voting crowd label noise semi active curriculum data augmentation
synthetic dataset distribution shift domain adaptation transfer meta hypernetwork architecture
search efficient inference serving cache speculative decoding long context positional encoding
rotary hallucination factuality safety jailbreak red teaming watermark detection membership
unlearning copyright code program synthesis theorem proving math word problem question answering
summarization translation dialogue chatbot sentiment entity relation extraction parsing
""".split()) - {"in", "problem"})
FILLER = """we the a of and to in for is on that with by this are as an be from at our which these
show propose novel method approach results demonstrate based paper new can using two both study
task performance existing while however further achieves significant compared art across
several experiments extensive outperforms framework proposed yields simple effective problem
across under without between different large small high low multiple first also its their
""".split()
CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML", "cs.RO", "cs.IR", "math.OC", "cs.CR", "q-bio.BM"]


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    """~3,000 distinct ML terms of one to three words, in a fixed, Zipf-ranked order."""
    terms: dict[str, None] = dict.fromkeys(ROOTS)
    while len(terms) < size:
        n = rng.choice((2, 2, 2, 3))
        terms[" ".join(rng.sample(ROOTS, n))] = None
    out = list(terms)
    rng.shuffle(out)
    return out[:size]


def zipf_pick(rng: random.Random, items: list[str], weights: list[float]) -> str:
    return rng.choices(items, weights)[0]


def make_papers(rng: random.Random, vocab: list[str], weights: list[float], count: int = 1000,
                share: float = 0.06) -> list[Paper]:
    """Papers of ~1,200 characters: prose where a `share` of the words are vocabulary terms.

    Most technical words of a real abstract are not anybody's interest: they come here from a
    pool of 20,000 made-up words, so that a term is as rare in the papers as it is in life.
    """
    others = ["".join(rng.choices("abcdefghiklmnoprstuvy", k=rng.randint(5, 11))) for _ in range(20_000)]
    papers = []
    for i in range(count):
        def sentence(chars: int) -> str:
            words: list[str] = []
            while sum(len(w) + 1 for w in words) < chars:
                roll = rng.random()
                if roll < share:
                    term = zipf_pick(rng, vocab, weights)
                    words.append(term.replace(" ", "-") if rng.random() < 0.1 else term)
                elif roll < share + 0.35:
                    words.append(rng.choice(others))
                else:
                    words.append(rng.choice(FILLER))
            return " ".join(words)
        title = sentence(70).capitalize()
        abstract = ". ".join(sentence(rng.randint(90, 160)).capitalize() for _ in range(8)) + "."
        papers.append(Paper(id=f"arxiv:2501.{i:05d}", title=title, abstract=abstract[:1200],
                            authors=tuple(f"Author{rng.randint(1, 5000)} Name{rng.randint(1, 500)}" for _ in range(4)),
                            categories=tuple(rng.sample(CATEGORIES, 2))))
    return papers


def make_interest(rng: random.Random, vocab: list[str], weights: list[float]) -> str:
    """One interest: a term (a phrase when it has several words), sometimes with a field, an exclusion, OR, a prefix, a category."""
    def term() -> str:
        t = zipf_pick(rng, vocab, weights)
        if " " in t:
            return f'"{t}"' if rng.random() < 0.8 else t
        if rng.random() < 0.05 and len(t) > 5:
            return t[:5] + "*"
        return t
    first = term()
    roll = rng.random()
    if roll < 0.10:
        first = f"ti:{first}"
    elif roll < 0.20:
        first = f"({first} OR {term()})"
    elif roll < 0.25:
        first = f"{first} cat:{rng.choice(CATEGORIES)}"
    if rng.random() < 0.35:
        first += f" {term()}"
    if rng.random() < 0.2:
        first += f" -{rng.choice(vocab).split()[0]}"
    return first


def naive_subscriber(interests: list[str]) -> list:
    """The naive matcher: each interest compiled to regexes, run over every paper's text."""
    def compile_node(node: Node, field: str | None):
        if isinstance(node, And):
            parts = [compile_node(i, field) for i in node.items]
            return lambda p: all(f(p) for f in parts)
        if isinstance(node, Or):
            parts = [compile_node(i, field) for i in node.items]
            return lambda p: any(f(p) for f in parts)
        if isinstance(node, Not):
            inner = compile_node(node.item, field)
            return lambda p: not inner(p)
        if isinstance(node, Field):
            return compile_node(node.item, node.name)
        if isinstance(node, Trending):
            return lambda p: False
        if field == "cat":
            value = node.word if isinstance(node, Term) else node.stem  # type: ignore[union-attr]
            return lambda p: any(c.lower().startswith(value) for c in p.categories)
        words = node.words if isinstance(node, Phrase) else ((node.stem,) if isinstance(node, Prefix) else (node.word,))
        tail = r"\w*" if isinstance(node, Prefix) else r"(?:s|es)?"
        rx = re.compile(r"\b" + r"[\s-]+".join(re.escape(w) for w in words) + tail + r"\b", re.IGNORECASE)
        getter = {"ti": lambda p: p.title, "abs": lambda p: p.abstract}.get(field or "", lambda p: p.title + "\n" + p.abstract)
        return lambda p: rx.search(getter(p)) is not None
    return [compile_node(parse_interest(i), None) for i in interests]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subscribers", type=int, default=20_000)
    ap.add_argument("--papers", type=int, default=1_000)
    ap.add_argument("--sample", type=int, default=100, help="subscribers timed with the naive loop")
    ap.add_argument("--share", type=float, default=0.06, help="share of a paper's words that are vocabulary terms")
    args = ap.parse_args()

    rng = random.Random(20240101)
    vocab = vocabulary(rng)
    weights = [1 / (rank + 100) for rank in range(len(vocab))]  # Zipf-like: popular topics are popular
    papers = make_papers(rng, vocab, weights, args.papers, args.share)
    profiles = [(sid, [make_interest(rng, vocab, weights) for _ in range(5)]) for sid in range(1, args.subscribers + 1)]
    print(f"{args.subscribers} subscribers x 5 interests, vocabulary {len(vocab)} terms ({args.share:.0%} of paper words), "
          f"{len(papers)} papers of {sum(len(p.title) + len(p.abstract) for p in papers) // len(papers)} chars on average")

    gc.collect()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    index = ProfileIndex.build(profiles)
    build = time.perf_counter() - t0
    # As a long-lived process does once after start-up: the index moves out of the collector's generations, so
    # the collections set off by making ~750,000 Match objects do not rescan it (the collector stays on).
    gc.freeze()
    rss_build = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def best(step, runs: int = 3) -> tuple[float, list[float], object]:
        """The best of `runs` timings of step(), every run's time, and the last result."""
        times, result = [], None
        for _ in range(runs):
            result = None  # the previous result is freed before timing the next run
            gc.collect()
            t0 = time.perf_counter()
            result = step()
            times.append(time.perf_counter() - t0)
        return min(times), times, result

    def read_all() -> list[Reading]:
        return [Reading(p, False, index.atoms) for p in papers]

    reading, _, _ = best(read_all)
    compact, compact_runs, sets = best(lambda: index.match_sets(papers))
    materialise_runs = []
    for _ in range(3):  # each time on fresh match sets: nothing made by an earlier run is reused
        fresh = index.match_sets(papers)
        gc.collect()
        t0 = time.perf_counter()
        made = fresh.matches()
        materialise_runs.append(time.perf_counter() - t0)
        del fresh, made  # freed outside the timing, as in the other steps
    materialise = min(materialise_runs)
    whole, whole_runs, matches = best(lambda: index.match(papers))
    rss_match = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    t0 = time.perf_counter()
    for sid in range(1, 101):
        index.replace(sid, [make_interest(rng, vocab, weights) for _ in range(5)])
    update = (time.perf_counter() - t0) / 100

    del sets
    gc.collect()
    tracemalloc.start()
    again = ProfileIndex.build(profiles)
    _, build_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    compact_sets = again.match_sets(papers)
    _, sets_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    made = compact_sets.matches()
    _, made_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del again, compact_sets, made

    sample = profiles[: args.sample]
    t0 = time.perf_counter()
    naive_pairs = set()
    for sid, interests in sample:
        funcs = naive_subscriber(interests)
        for paper in papers:
            if any(f(paper) for f in funcs):
                naive_pairs.add((sid, paper.id))
    naive = (time.perf_counter() - t0) * len(profiles) / len(sample)
    original = ProfileIndex.build(sample)  # the index above had 100 profiles replaced since
    index_pairs = {(m.subscriber_id, m.paper_id) for m in original.match(papers)}

    def runs_of(times: list[float]) -> str:
        return ", ".join(f"{t:.3f}" for t in times)

    subs_matched = len({m.subscriber_id for m in matches})  # type: ignore[union-attr]
    count = len(matches)  # type: ignore[arg-type]
    rows = [
        (f"index build ({len(profiles):,} profiles)", f"{build:.2f} s"),
        ("reading papers (tokenise + find atoms), best of 3", f"{reading:.3f} s  ({reading / len(papers) * 1e6:.0f} us per paper)"),
        ("match sets: who matches what (incl. reading), best of 3", f"{compact:.3f} s  (runs: {runs_of(compact_runs)})"),
        ("  of which deciding the pairs (after reading)", f"{compact - reading:.3f} s"),
        ("materialising every Match (hits, scores), best of 3",
         f"{materialise:.3f} s  ({materialise / max(count, 1) * 1e6:.2f} us per match; runs: {runs_of(materialise_runs)})"),
        ("whole match() (sets + Match objects), best of 3", f"{whole:.3f} s  (runs: {runs_of(whole_runs)})"),
        ("replace one subscriber", f"{update * 1e3:.2f} ms"),
        ("distinct atoms / distinct interests", f"{len(index.atoms.ids)} / {len(index._interests)}"),
        ("matches (subscriber, paper)", f"{count} ({count / len(papers):.1f} per paper, "
                                        f"{subs_matched} subscribers with >= 1)"),
        ("peak traced memory: build / match sets / sets + every Match",
         f"{build_peak / 2**20:.0f} MiB / {(sets_peak - base) / 2**20:.0f} MiB / {(made_peak - base) / 2**20:.0f} MiB"),
        ("max RSS: start / after build / after match", f"{rss0 / 1024:.0f} / {rss_build / 1024:.0f} / {rss_match / 1024:.0f} MiB"),
        (f"naive regex loop ({len(sample)} subscribers, scaled to {len(profiles)})", f"{naive:.0f} s"),
        ("speed-up vs naive: match sets / whole match()", f"{naive / compact:,.0f}x / {naive / whole:,.0f}x"),
        ("naive vs index pairs on the sample", "same" if naive_pairs == index_pairs else
         f"{len(naive_pairs & index_pairs)} shared, naive only {len(naive_pairs - index_pairs)}, "
         f"index only {len(index_pairs - naive_pairs)}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
