"""Telegram alert text: golden files for an alert, a grouped alert and a split message, and hostile strings that
still give valid Telegram HTML under the limit (checked with tests/telegram_html.py, not by eye).

Regenerate the golden files after a deliberate change with PAPERPOST_REGEN_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from telegram_html import check_message
from test_digest_golden import check_golden

from bot.channels.telegram.alert_text import MAX_PAPERS_PER_PART, alert_parts, visible_length
from bot.models import Hit, Match, Paper

HOSTILE = ["<b>", "&", "<b>unbalanced", "</i>", "&amp; &lt;", "x" * 10_000, "😀" * 3000, "עברית מימין לשמאל",
           "<" * 5000, '"><a href="javascript:alert(1)">', "\u202e\u200f", ""]


def _paper(n: int, **fields: object) -> Paper:
    values: dict[str, object] = dict(
        id=f"arxiv:2611.{n:05d}", title=f"Reward models under pressure, part {n}",
        abstract="We study how a reward model drifts when a policy is optimised against it, and fix it.",
        authors=("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"), categories=("cs.LG", "cs.CL"),
        links={"abs": f"https://arxiv.org/abs/2611.{n:05d}", "pdf": f"https://arxiv.org/pdf/2611.{n:05d}",
               "hf": f"https://huggingface.co/papers/2611.{n:05d}"})
    values.update(fields)
    return Paper(**values)  # type: ignore[arg-type]


def _match(found: Paper) -> Match:
    hits = [Hit("reward model", field, at, at + 12) for field, text in (("title", found.title), ("abstract", found.abstract))
            if (at := text.lower().find("reward model")) >= 0]
    return Match(1, found.id, 2.0, ("reward model",), tuple(hits))


def _render(parts) -> str:  # type: ignore[no-untyped-def]
    out = []
    for k, part in enumerate(parts, 1):
        rows = "\n".join(" | ".join(f"[{b.text}]({b.url or 'press ' + b.callback})" for b in row) for row in part.buttons)
        out.append(f"--- part {k}: papers {', '.join(part.paper_ids)}\n{part.html}\n--- buttons\n{rows}")
    return "\n".join(out) + "\n"


def _check_parts(parts) -> None:  # type: ignore[no-untyped-def]
    for part in parts:
        parsed = check_message(part.html)
        assert parsed.length == visible_length(part.html)
        buttons = [b for row in part.buttons for b in row]
        assert len(buttons) <= 100 and all(len(row) <= 8 for row in part.buttons)
        assert all(1 <= len(b.text) <= 64 and (b.url.startswith("https://") != bool(b.callback)) for b in buttons)
        assert all(len(b.callback.encode()) <= 64 for b in buttons)
        votes = [b for b in buttons if b.callback]
        assert len(votes) == 2 * len(part.paper_ids)  # "more like this" and "not for me" under every paper
        assert len(part.paper_ids) <= MAX_PAPERS_PER_PART


def test_golden_alert():
    found = _paper(1)
    parts = alert_parts([(found, _match(found))])
    _check_parts(parts)
    check_golden("telegram_alert.txt", _render(parts))


def test_golden_grouped_alert():
    found = [_paper(n) for n in range(6)]
    parts = alert_parts([(p, _match(p)) for p in found], heading="6 new papers for you")
    assert len(parts) == 1
    _check_parts(parts)
    check_golden("telegram_grouped.txt", _render(parts))


def test_golden_split_message_splits_at_paper_boundaries():
    found = [_paper(n, title=f"Reward models under pressure, part {n}: " + "a long subtitle " * 18) for n in range(14)]
    parts = alert_parts([(p, _match(p)) for p in found], heading="14 new papers for you")
    assert len(parts) >= 2
    _check_parts(parts)
    assert [i for part in parts for i in part.paper_ids] == [p.id for p in found]
    check_golden("telegram_split.txt", _render(parts))


def test_vote_buttons_carry_a_key_that_names_the_paper_in_64_bytes():
    from bot.channels.telegram.vote_keys import find_hashed, is_hashed, read_vote_data

    long_id = "url:https://journals.example.org/" + "volume-12/issue-3/" * 10 + "article"
    for paper_id in ("arxiv:2611.00001", "arxiv:hep-th/9901001", long_id):
        [part] = alert_parts([(_paper(1, id=paper_id), None)])
        more, less = part.buttons[-1]
        assert (more.text, less.text) == ("👍 More like this", "👎 Not for me")
        assert max(len(more.callback.encode()), len(less.callback.encode())) <= 64
        (up, key), (down, same) = read_vote_data(more.callback), read_vote_data(less.callback)
        assert (up, down) == (1, -1) and key == same
        found = find_hashed(key, ["arxiv:1", paper_id]) if is_hashed(key) else key
        assert found == paper_id and is_hashed(key) == (paper_id == long_id)
    assert read_vote_data("rm:1:abc") is None and read_vote_data("v:*:x") is None and read_vote_data("v:+:") is None


def test_hostile_strings_give_valid_telegram_html_under_the_limit():
    for n, text in enumerate(HOSTILE):
        found = _paper(n, title=text, abstract=text + " reward model " + text, authors=(text,) * 5,
                       categories=(text, "cs.LG"), links={"abs": text, "pdf": "https://x.org/" + text[:50],
                                                           "hf": 'https://x.org/"q"'})
        match = Match(1, found.id, 1.0, (text,), (Hit(text, "title", 0, 5), Hit("reward model", "abstract",
                                                                                len(text) + 1, len(text) + 13)))
        _check_parts(alert_parts([(found, match)]))
        _check_parts(alert_parts([(found, match)] * 7, heading=text))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=400), st.text(max_size=600)), min_size=1, max_size=25))
def test_any_titles_and_abstracts_give_valid_parts_that_carry_every_paper_once(texts):
    found = [_paper(n, title=title, abstract=abstract) for n, (title, abstract) in enumerate(texts)]
    parts = alert_parts([(p, Match(1, p.id, 1.0, ("x",), (Hit("x", "title", 0, 3), Hit("x", "abstract", 2, 9))))
                         for p in found], heading="new")
    _check_parts(parts)
    assert [i for part in parts for i in part.paper_ids] == [p.id for p in found]
