"""What a person reads: a fixed digest's HTML and text against golden files; inline-once equals per-email inlining.

Regenerate after a deliberate change with PAPERPOST_REGEN_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import email
import html
import os
from datetime import datetime, timezone
from email import policy
from pathlib import Path

from bot.channels.email.mime import build_email
from bot.config import TEMPLATES_DIR
from bot.digest.assembly import DigestLinks, assemble_digest
from bot.models import Hit, Match, Paper, Subscriber
from bot.digest.rendering import Renderer, inline_css

GOLDEN = Path(__file__).parent / "golden"
ABSTRACT = ("Reward models trained from human preferences are the backbone of RLHF, yet they drift when the policy "
            "is optimised against them. We measure this over-optimisation on six tasks and show that ensembles of "
            "reward models & calibrated <uncertainty> delay it; honesty probes stay stable.")


def fixed_digest():
    person = Subscriber(7, "ada@example.org", "active", ('"reward model"', "honesty -survey"), tz="Europe/London")
    papers = {
        "arxiv:2611.00001": Paper("arxiv:2611.00001", "Reward Model Over-optimisation, Measured", ABSTRACT,
                                  ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Katherine Johnson", "Émilie du Châtelet"),
                                  ("cs.LG", "cs.CL"), links={"abs": "https://arxiv.org/abs/2611.00001",
                                                             "pdf": "https://arxiv.org/pdf/2611.00001",
                                                             "hf": "https://huggingface.co/papers/2611.00001"},
                                  upvotes=42),
        "arxiv:2611.00002": Paper("arxiv:2611.00002", "Honest answers under pressure", "Honesty is measured.",
                                  ("Barbara Liskov",), ("cs.AI",), links={"abs": "https://arxiv.org/abs/2611.00002"}),
    }
    matches = [
        Match(7, "arxiv:2611.00001", 5.0, ('"reward model"',), (Hit("reward model", "title", 0, 12),
                                                                Hit("reward model", "abstract", 0, 13))),
        Match(7, "arxiv:2611.00002", 2.0, ("honesty -survey",), (Hit("honesty", "abstract", 0, 7),)),
    ]
    links = DigestLinks("https://papers.example.org/manage/T", "https://papers.example.org/unsubscribe/T",
                        "https://papers.example.org/digest/T")
    return assemble_digest(person, matches, papers, period="2026-11-28", links=links, cap=25,
                           postal_address="1 Example Street, Cambridge")


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("PAPERPOST_REGEN_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with PAPERPOST_REGEN_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8"), f"{name} changed: review, then PAPERPOST_REGEN_GOLDEN=1"


def test_digest_html_and_text_match_the_golden_files():
    text, page = Renderer().render_email("digest", digest=fixed_digest())
    check_golden("digest.txt", text)
    check_golden("digest.html", page)
    assert "&lt;uncertainty&gt;" in page and "<uncertainty>" not in page  # paper text is escaped
    assert "*Reward models*" in text  # the matched words, starred


def test_the_email_built_from_it_parses_back_to_the_same_parts():
    digest = fixed_digest()
    text, page = Renderer().render_email("digest", digest=digest)
    envelope = build_email(outbox_id=1, kind="digest", mail_from="paperpost <digest@papers.example.org>",
                           to="ada@example.org", subject=digest.subject, text=text, html=page,
                           date=datetime(2026, 11, 28, 7, tzinfo=timezone.utc))
    message = email.message_from_bytes(envelope.data, policy=policy.default)
    assert message["Subject"] == "2 new papers on reward model, honesty"
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert message.get_body(("html",)).get_content().replace("\r\n", "\n") == page
    assert max(len(line) for line in envelope.data.split(b"\r\n")) <= 998


def test_inlining_the_template_once_equals_inlining_each_email():
    renderer = Renderer()
    digest = fixed_digest()
    once = renderer.render("email/digest.html", digest=digest)
    raw = renderer.env.from_string((TEMPLATES_DIR / "email" / "digest.html").read_text(encoding="utf-8"))
    per_email = inline_css(raw.render(digest=digest))
    # lxml (inside premailer) writes `&#34;` in text as a plain quote: compare the text, not its escaping.
    assert html.unescape(once) == html.unescape(per_email)
    assert once.count('style="') == per_email.count('style="') > 20
