"""The difficulty knobs: what a confusable share does, and what no knob may change."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest

from mer_bench.synth.casme2 import EXPRESSIONS, casme2_twin_spec, plan_casme2_twin
from mer_bench.synth.difficulty import Difficulty, all_difficulties
from mer_bench.synth.distractors import Distractors
from mer_bench.synth.motion import parse_action_units

COUNTS = {"negative": 60, "positive": 30, "surprise": 10}


def test_a_confusable_clip_borrows_another_label_in_proportion_to_its_count():
    difficulty = Difficulty((1.0, 2.0), confusable_share=0.2, distractors=Distractors())
    rng = np.random.default_rng(0)
    shown = Counter(difficulty.moves_as("negative", COUNTS, rng) for _ in range(20000))
    assert shown["negative"] / 20000 == pytest.approx(0.8, abs=0.01)
    # the borrowed clips: positive and surprise in the ratio 30 : 10
    assert shown["positive"] / (shown["positive"] + shown["surprise"]) == pytest.approx(0.75, abs=0.02)


def test_no_share_means_every_clip_moves_as_its_own_label():
    difficulty = Difficulty((1.0, 2.0), confusable_share=0.0, distractors=Distractors())
    rng = np.random.default_rng(1)
    assert {difficulty.moves_as("surprise", COUNTS, rng) for _ in range(500)} == {"surprise"}


@pytest.mark.parametrize("amplitude, share", [((1.0, 2.5), 1.5), ((0.0, 1.0), 0.1), ((2.0, 1.0), 0.1)])
def test_impossible_knobs_are_refused(amplitude, share):
    with pytest.raises(ValueError):
        Difficulty(amplitude, confusable_share=share, distractors=Distractors())


def test_the_knobs_change_how_faces_move_never_the_key_frames_or_labels():
    """The knobs draw from their own random stream: a calibration that changes them leaves every
    clip's labels, timing and annotation where they were (so the reselection study's truth stays)."""
    spec = casme2_twin_spec(0.3)
    harder = dataclasses.replace(spec, difficulty=dataclasses.replace(
        spec.difficulty, amplitude_px=(0.5, 1.0), confusable_share=0.5))
    plans, other = plan_casme2_twin(spec, 0), plan_casme2_twin(harder, 0)
    assert [(p.clip, p.emotion, p.truth, p.annotated, p.apex_missing) for p in plans] == \
           [(p.clip, p.emotion, p.truth, p.annotated, p.apex_missing) for p in other]
    assert all(0.5 <= p.amplitude_px <= 1.0 for p in other)
    # about half the clips of the harder twin move with action units of another label's table
    def own_table(plan):
        return any(tuple(parse_action_units(combo)) == plan.action_units
                   for combo, _ in EXPRESSIONS[plan.emotion])
    def foreign(clips):
        return sum(not own_table(p) for p in clips) / len(clips)
    # a borrowed table may hold the clip's own combination, so at most the share looks foreign
    assert foreign(plans) <= spec.difficulty.confusable_share + 0.05
    assert 0.25 < foreign(other) <= 0.55


def test_every_twin_has_its_knobs_in_the_calibrated_range():
    difficulties = all_difficulties()
    assert len(difficulties) == 9
    for name, difficulty in difficulties.items():
        assert 0.1 <= difficulty.confusable_share <= 0.3, name
