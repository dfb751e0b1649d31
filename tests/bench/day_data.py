"""Write the two days of issue 12 to files, from a fixed seed: an arXiv RSS feed of papers and a subscribers CSV.

The vocabulary, the Zipf weights and the papers come from bench_matching.py (the same generator,
so the two benchmarks speak of the same world). The typical day gives each subscriber five interests
written as researchers write them: a phrase, a word pair, a `ti:` word, one with an exclusion, and one
free-form (OR, a prefix, a category); about 28 matches per subscriber over 1,000 papers. The broad
day gives five single common words (`models`, `with`, ...): about 500 matches per subscriber.

    python tests/bench/day_data.py --day typical --subscribers 2000 --out /tmp/day --count

writes /tmp/day/feed.xml and /tmp/day/subscribers.csv and (with --count) the pairs the matcher finds.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench_matching import make_interest, make_papers, vocabulary, zipf_pick  # noqa: E402

from bot.models import Paper  # noqa: E402

SEED = 20261201
# Share of a paper's words that are vocabulary terms: tuned so that the typical day gives ~28 matches
# per subscriber over 1,000 papers (see `--count`).
SHARE = 0.045
# The broad day's readers pick single common words: the 30 one-word terms in most papers (each in 8-15%
# of them), `models`, and for one reader in three the filler word `with` (in two thirds of the papers).
BROAD_POOL = 30
BROAD_EXTRA = ("models",)
BROAD_FILLER = "with"


@dataclass(frozen=True)
class Day:
    """The files of one generated day and what they hold."""

    name: str
    feed: Path
    subscribers_csv: Path
    subscribers: int
    papers: int
    average_paper_chars: int


def typical_interests(rng: random.Random, vocab: list[str], weights: list[float]) -> list[str]:
    """Five interests: a phrase, a word pair, a `ti:` word, one with an exclusion, one free-form."""
    def pick(words: int | None = None) -> str:
        while True:
            term = zipf_pick(rng, vocab, weights)
            if words is None or len(term.split()) == words:
                return term
    phrase = f'"{pick(2)}"' if rng.random() < 0.5 else f'"{pick(3)}"'
    pair = " ".join(rng.sample(pick(2).split() + pick(1).split(), 2))
    title = f"ti:{pick(1)}"
    excluded = f"{pick()} -{rng.choice(vocab).split()[0]}"
    return [phrase, pair, title, excluded, make_interest(rng, vocab, weights)]


def broad_pool(vocab: list[str], papers: list[Paper]) -> list[str]:
    """The one-word terms found in most papers (ties broken by the word), plus BROAD_EXTRA."""
    seen: dict[str, int] = {}
    for paper in papers:
        for word in set(re.findall(r"[a-z]+", f"{paper.title} {paper.abstract}".lower())):
            seen[word] = seen.get(word, 0) + 1
    singles = sorted((v for v in vocab if " " not in v), key=lambda v: (-seen.get(v, 0), v))
    return singles[:BROAD_POOL] + [w for w in BROAD_EXTRA if w not in singles[:BROAD_POOL]]


def broad_interests(rng: random.Random, pool: list[str]) -> list[str]:
    """Five single common words: a reader who wants half of the day."""
    words = rng.sample(pool, 5)
    if rng.random() < 1 / 3:
        words[-1] = BROAD_FILLER
    return words


def write_feed(papers: list[Paper], path: Path, when: datetime) -> None:
    """An rss.arxiv.org-style RSS 2.0 announcement feed (what `sources add` of an arXiv list reads)."""
    stamp = format_datetime(when)
    items = []
    for paper in papers:
        number = paper.id.split(":", 1)[1]
        cats = "".join(f"<category>{c}</category>" for c in paper.categories)
        items.append(
            f"<item><title>{escape(paper.title)}</title><link>https://arxiv.org/abs/{number}</link>"
            f"<description>arXiv:{number}v1 Announce Type: new \nAbstract: {escape(paper.abstract)}</description>"
            f'<guid isPermaLink="false">oai:arXiv.org:{number}v1</guid>{cats}<pubDate>{stamp}</pubDate>'
            f"<arxiv:announce_type>new</arxiv:announce_type><dc:creator>{escape(', '.join(paper.authors))}"
            "</dc:creator></item>")
    path.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">'
        "<channel><title>cs.LG updates on arXiv.org</title><link>http://rss.arxiv.org/rss/cs.LG</link>"
        f"<description>cs.LG updates on the arXiv.org e-print archive.</description><pubDate>{stamp}</pubDate>"
        + "\n".join(items) + "</channel></rss>\n", encoding="utf-8")


def email_of(n: int) -> str:
    """The address of subscriber n (1-based); the exactly-once check reads it back from the sink."""
    return f"reader{n:06d}@lab.example.org"


def generate(day: str, subscribers: int, papers: int, folder: Path, seed: int = SEED) -> tuple[Day, list]:
    """Write feed.xml and subscribers.csv of `day` ("typical" or "broad") into folder; the Day and the profiles."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    weights = [1 / (rank + 100) for rank in range(len(vocab))]  # Zipf-like, as in bench_matching
    made = make_papers(rng, vocab, weights, papers, SHARE)
    feed = folder / "feed.xml"
    write_feed(made, feed, datetime.now(timezone.utc))
    profile_rng = random.Random(seed + (1 if day == "typical" else 2))
    pool = broad_pool(vocab, made)
    profiles = []
    out = folder / "subscribers.csv"
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "interests", "frequency", "hour", "tz"])
        for n in range(1, subscribers + 1):
            interests = (typical_interests(profile_rng, vocab, weights) if day == "typical"
                         else broad_interests(profile_rng, pool))
            profiles.append((n, interests))
            # hour 0 UTC: the digest is due all day, so a planner worker plans it without --now
            writer.writerow([email_of(n), " ; ".join(interests), "daily", "0", "UTC"])
    chars = sum(len(p.title) + len(p.abstract) for p in made) // max(1, len(made))
    return Day(day, feed, out, subscribers, papers, chars), made


def count_pairs(profiles: list, papers: list[Paper]) -> tuple[int, int]:
    """(pairs, subscribers with at least one) as the product's matcher finds them, to tune the generator."""
    from bot.profile import ProfileIndex

    sets = ProfileIndex.build(profiles).match(papers)
    return len(sets), len({m.subscriber_id for m in sets})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", choices=("typical", "broad"), default="typical")
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--papers", type=int, default=1_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", action="store_true", help="also match in-process and print the pairs")
    args = parser.parse_args()
    day, papers = generate(args.day, args.subscribers, args.papers, args.out)
    print(f"{day.name}: {day.feed} ({day.papers} papers of {day.average_paper_chars} chars), {day.subscribers_csv}")
    if args.count:
        profiles = []
        with day.subscribers_csv.open(encoding="utf-8") as handle:
            for n, row in enumerate(csv.DictReader(handle), 1):
                profiles.append((n, row["interests"].split(" ; ")))
        pairs, matched = count_pairs(profiles, papers)
        print(f"pairs {pairs:,} ({pairs / day.subscribers:.1f} per subscriber), {matched:,} subscribers with >= 1")


if __name__ == "__main__":
    main()
