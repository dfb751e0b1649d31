"""Explanations are kept per process by (paper, interest lines): reused for another reader, redone when the paper changes."""

from __future__ import annotations

from dataclasses import replace

from bot.digest.explain import explanations
from bot.models import Match, Paper

PAPER = Paper(id="arxiv:2612.00001", title="Reward model calibration", abstract="We calibrate a reward model.")


def match(subscriber_id: int, paper: Paper = PAPER) -> Match:
    return Match(subscriber_id, paper.id, 1.0, ('"reward model"',), ())


def test_an_explanation_is_reused_for_the_same_paper_and_lines_and_redone_when_the_paper_changes():
    first = explanations([match(1)], {PAPER.id: PAPER}, {})[(PAPER.id, ('"reward model"',))]
    assert first.title == ((0, 12),) and first.abstract == ((15, 27),)
    assert '"reward model"' in first.why
    again = explanations([match(2)], {PAPER.id: PAPER}, {})[(PAPER.id, ('"reward model"',))]
    assert again is first  # another reader, another batch: not worked out again
    retitled = replace(PAPER, title="Calibrating reward models")
    changed = explanations([match(3, retitled)], {PAPER.id: retitled}, {})[(PAPER.id, ('"reward model"',))]
    assert changed is not first and changed.title == ((12, 25),)
