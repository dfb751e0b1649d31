"""Papers on two topics (vision, language) from a fixed seed, for tests of what readers' votes teach.

Each paper's text mixes its topic's words, words every ML paper uses, and filler, so that topics
are told apart only by their words (never by category: the model does not read categories).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from bot.models import Paper

VISION = ("image images pixel pixels segmentation detection camera video depth convolutional visual scene object "
          "objects point cloud optical flow resolution photographs rendering lidar pose estimation stereo "
          "texture occlusion bounding boxes frames imagery semantic segmentation instance masks").split()
LANGUAGE = ("language text tokens translation sentence sentences parsing dialogue corpus syntax words grammar "
            "speech lexical summarization questions answers multilingual tokenizer vocabulary discourse "
            "entailment prompts reading comprehension morphology paraphrase").split()
SHARED = ("model models training learning neural network benchmark dataset results method approach performance "
          "evaluation data large scale transformer architecture loss optimization baseline experiments "
          "state art propose show improves accuracy robust efficient").split()
FILLER = "we the of and to in a for on with that this is are by from our as at which".split()
TOPICS = {"cs.CV": VISION, "cs.CL": LANGUAGE}


def topic_papers(count: dict[str, int], *, seed: int = 14, first: int = 0,
                 when: datetime = datetime(2026, 11, 27, tzinfo=UTC)) -> list[Paper]:
    """`count[category]` papers per topic, ids `arxiv:2611.NNNNN` from `first`, in a shuffled order."""
    rng = random.Random(seed)
    papers = []
    n = first
    for category, many in count.items():
        topic = TOPICS[category]
        for _ in range(many):
            def text(words: int) -> str:
                out = []
                for _ in range(words):
                    roll = rng.random()
                    pool = topic if roll < 0.3 else SHARED if roll < 0.6 else FILLER
                    out.append(rng.choice(pool))
                return " ".join(out)
            papers.append(Paper(id=f"arxiv:2611.{n:05d}", title=text(9).capitalize(), abstract=text(120).capitalize() + ".",
                                authors=(f"Author {n}",), categories=(category,), published=when,
                                links={"abs": f"https://arxiv.org/abs/2611.{n:05d}"}))
            n += 1
    rng.shuffle(papers)
    return papers
