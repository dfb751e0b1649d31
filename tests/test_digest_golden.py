"""What a person reads: a fixed digest's HTML and text against golden files; inline-once equals per-email inlining.

Regenerate after a deliberate change with PAPERPOST_REGEN_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import email
import html
import os
import textwrap
from datetime import datetime, timezone
from email import policy
from pathlib import Path

from hypothesis import given, settings, strategies as st

from bot.channels.email.mime import build_email
from bot.config import TEMPLATES_DIR
from bot.digest.assembly import DigestLinks, assemble_digest
from bot.models import Hit, Match, Paper, Subscriber
from bot.digest.rendering import VOTE_BASE, Renderer, inline_css, wrap

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
    return assemble_digest(person, matches, papers, period="2026-11-28", links=links_for("T"), cap=25,
                           postal_address="1 Example Street, Cambridge")


def links_for(token: str) -> DigestLinks:
    base = "https://papers.example.org"
    return DigestLinks(f"{base}/manage/{token}", f"{base}/unsubscribe/{token}", f"{base}/digest/{token}",
                       f"{base}/vote/{token}")


LIKED = Paper("arxiv:2610.04321", "Seeing in the dark: low-light image restoration", "Restoring photographs.",
              ("Fei-Fei Li",), ("cs.CV",), links={"abs": "https://arxiv.org/abs/2610.04321"})


def suggestion_digest(links: DigestLinks | None = None):
    """The fixed digest plus "You may also like": two papers no interest matched, one with an old-style id."""
    keyword = fixed_digest()
    found = {item.paper.id: item.paper for item in keyword.items}
    found[LIKED.id] = LIKED
    found["arxiv:2611.00003"] = Paper("arxiv:2611.00003", "Night-time depth estimation with event cameras",
                                      "Event cameras see motion where frames see nothing; we estimate depth at night.",
                                      ("Yann LeCun", "Léon Bottou"), ("cs.CV", "cs.RO"),
                                      links={"abs": "https://arxiv.org/abs/2611.00003",
                                             "pdf": "https://arxiv.org/pdf/2611.00003"})
    found["arxiv:hep-th/9901001"] = Paper("arxiv:hep-th/9901001", "Dark matter & <light> in old papers",
                                          "An old-style arXiv id.", ("Richard Feynman",), ("hep-th",),
                                          links={"abs": "https://arxiv.org/abs/hep-th/9901001"})
    matches = [item.match for item in keyword.items] + [
        Match(7, "arxiv:hep-th/9901001", 0.0, (), (), learned=0.61, suggested_from=LIKED.id),
        Match(7, "arxiv:2611.00003", 0.0, (), (), learned=0.7, suggested_from=LIKED.id),
    ]
    return assemble_digest(keyword.subscriber, matches, found, period="2026-11-28", links=links or links_for("T"),
                           cap=25, postal_address="1 Example Street, Cambridge")


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
    assert "More like this: https://papers.example.org/vote/T?paper=arxiv%3A2611.00001&choice=more" in text
    assert 'href="https://papers.example.org/vote/T?paper=arxiv%3A2611.00002&amp;choice=less"' in page


def test_a_digest_with_suggestions_matches_its_golden_files():
    digest = suggestion_digest()
    assert [item.paper.id for item in digest.suggestions] == ["arxiv:2611.00003", "arxiv:hep-th/9901001"]
    text, page = Renderer().render_email("digest", digest=digest)
    check_golden("digest_suggestions.txt", text)
    check_golden("digest_suggestions.html", page)
    assert digest.subject == "2 new papers on reward model, honesty"  # suggestions are not counted
    assert "You may also like" in text and "<h2 class=\"section-title\"" in page
    assert "Why: like <em>Seeing in the dark: low-light image restoration</em>" in page
    assert "&lt;light&gt;" in page and "<light>" not in page
    # An old-style id is encoded whole, in both parts.
    assert "vote/T?paper=arxiv%3Ahep-th%2F9901001&amp;choice=less" in page
    assert "vote/T?paper=arxiv%3Ahep-th%2F9901001&choice=more" in text


def test_each_reader_gets_their_own_vote_links_in_blocks_rendered_once():
    renderer = Renderer()
    calls: list[str] = []
    fragments = renderer.env.globals["fragment"]

    def counting(name, macro, item):  # type: ignore[no-untyped-def]
        made = fragments(name, lambda it: (calls.append(it.paper.id), macro(it))[1], item)
        return made

    renderer.env.globals["fragment"] = counting
    first = renderer.render_email("digest", digest=suggestion_digest(links_for("ONE")))
    second = renderer.render_email("digest", digest=suggestion_digest(links_for("TWO")))
    assert len(calls) == 2 * 4  # four blocks, rendered once for each part (text, HTML), not once per reader
    for (text, page), token, other in ((first, "ONE", "TWO"), (second, "TWO", "ONE")):
        for part in (text, page):
            assert part.count(f"/vote/{token}?paper=") == 8 and f"/vote/{other}" not in part
            assert VOTE_BASE not in part


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


@settings(max_examples=400, deadline=None)
@given(text=st.lists(st.sampled_from(["a", "bb", "dddddddd", "é", " ", "\t", "\n", "x" * 30, "y" * 73, "z" * 80,
                                      "—", "·", "\xa0", "-", "fine-tuning"]), max_size=40).map("".join),
       width=st.sampled_from([76, 40, 20]), indent=st.sampled_from(["   ", ""]))
def test_the_text_part_is_wrapped_exactly_as_textwrap_would(text, width, indent):
    """wrap's word-by-word fill (no hyphens, no over-long words) and its textwrap path give textwrap's lines."""
    expected = textwrap.fill(" ".join(text.split()), width=width, initial_indent=indent, subsequent_indent=indent)
    assert wrap.__wrapped__(text, width, indent) == expected
