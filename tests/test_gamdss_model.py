"""GAMDSS model: sizes, forward and training, two-branch parameter parity, decay mask, errors."""

import numpy as np
import pytest
import torch

from baselines.ststnet import STSTNET
from gamdss.model import REFERENCE, SMALL, GamdssConfig, GamdssNet
from gamdss.retention import Retention, head_log_decays
from mer_bench.errors import ConfigError
from mer_bench.models import MODELS, TrainingBudget, count_parameters, two_branch
from mer_bench.train import train_and_predict

# The reference code counts 12,793,003 at 5 classes; 3,590 of those are never used in its
# forward pass (the ViT's 5-class head 2,565, to_Mask 513, cls_token 512) and are not built here.
REFERENCE_UNUSED = 2565 + 513 + 512


def test_reference_size_has_the_reference_count_less_its_unused_parameters():
    model = GamdssNet(REFERENCE, 5)
    assert count_parameters(model) == 12_793_003 - REFERENCE_UNUSED == 12_789_413
    assert count_parameters(model.spatial) == 6_411_782 - REFERENCE_UNUSED
    assert count_parameters(model) - count_parameters(model.spatial) == 6_381_221
    assert count_parameters(GamdssNet(REFERENCE, 3)) == 12_790_953 - REFERENCE_UNUSED


def test_small_size_parameter_count():
    assert count_parameters(GamdssNet(SMALL, 5)) == 233_837
    assert count_parameters(GamdssNet(SMALL, 3)) == 233_579


def test_reference_forward_gives_one_logit_row_per_sample():
    model = GamdssNet(REFERENCE, 5).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224), torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 5)


def test_small_forward_and_one_training_step_change_the_weights():
    torch.manual_seed(0)
    model = MODELS.get("gamdss-small").build(5)
    diff, frame = torch.randn(4, 3, 64, 64), torch.randn(4, 3, 64, 64)
    y = torch.tensor([0, 1, 2, 4])
    logits = model(diff, frame)
    assert logits.shape == (4, 5)
    before = [p.detach().clone() for p in model.parameters()]
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    torch.nn.functional.cross_entropy(logits, y).backward()
    optimiser.step()
    changed = [not torch.equal(a, b) for a, b in zip(before, model.parameters())]
    assert all(changed), "every parameter takes part in the forward pass"


def test_two_branch_small_trains_through_the_harness_trainer():
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(4, 3, 64, 64)).astype(np.float32) for _ in range(2)]
    falling = [rng.normal(size=(4, 3, 64, 64)).astype(np.float32) for _ in range(2)]
    outcome = train_and_predict(MODELS.get("gamdss-small-2branch"), 3, x, np.array([0, 1, 2, 0]),
                                x, seed=0, x_train_falling=falling,
                                budget=TrainingBudget(epochs=1, batch_size=4, lr=1e-3))
    assert outcome.predictions.shape == (4,)
    assert np.isfinite(outcome.epoch_losses).all()


@pytest.mark.parametrize("single, double", [("gamdss-drt", "gamdss-bdrt"),
                                            ("gamdss-small", "gamdss-small-2branch")])
def test_two_branch_gamdss_has_exactly_the_parameters_of_its_base(single, double):
    base, variant = MODELS.get(single), MODELS.get(double)
    assert not base.two_branch and variant.two_branch
    assert (variant.inputs, variant.input_size) == (base.inputs, base.input_size) == (
        ("frame-diff", "frame"), base.input_size)
    assert count_parameters(variant.build(5)) == count_parameters(base.build(5))


def test_two_branch_ststnet_has_exactly_the_parameters_of_ststnet():
    variant = two_branch(STSTNET)
    assert variant.two_branch
    assert count_parameters(variant.build(3)) == count_parameters(STSTNET.build(3)) == 1683


def test_head_decays_are_the_reference_gammas():
    np.testing.assert_allclose(head_log_decays(2, 2, 4).exp(), [0.75, 0.9375])
    np.testing.assert_allclose(head_log_decays(2, 2, 6).exp(), [0.75, 0.96875])


def test_whole_retention_with_zero_queries_and_keys_weighs_gamma_to_the_manhattan_distance():
    retention = Retention(8, 2, decomposed=False, init_value=2, heads_range=6)
    with torch.no_grad():
        for proj in (retention.q_proj, retention.k_proj):
            proj.weight.zero_()
            proj.bias.zero_()
    height, width = 3, 4
    weights = retention.attention_weights(torch.randn(1, height, width, 8))[0]
    assert weights.shape == (2, 12, 12)

    def index(row, col):
        return row * width + col

    for head, gamma in enumerate([0.75, 0.96875]):
        corner = (1 + gamma + gamma ** 2) * (1 + gamma + gamma ** 2 + gamma ** 3)
        inner = (1 + 2 * gamma) * (1 + 2 * gamma + gamma ** 2)  # from (1, 1)
        expected = {
            (index(0, 0), index(0, 0)): 1 / corner,
            (index(0, 0), index(2, 3)): gamma ** 5 / corner,
            (index(0, 0), index(1, 2)): gamma ** 3 / corner,
            (index(1, 1), index(1, 1)): 1 / inner,
            (index(1, 1), index(0, 3)): gamma ** 3 / inner,
            (index(1, 1), index(2, 0)): gamma ** 2 / inner,
        }
        for (query, key), value in expected.items():
            assert weights[head, query, key].item() == pytest.approx(value, rel=1e-5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 12))


def test_decomposed_retention_keeps_the_grid_shape():
    retention = Retention(8, 2, decomposed=True, init_value=2, heads_range=4)
    assert retention(torch.randn(2, 5, 6, 8)).shape == (2, 5, 6, 8)


def test_a_mismatched_input_size_names_the_model_and_the_size_it_takes():
    model = MODELS.get("gamdss-small").build(3)
    with pytest.raises(ConfigError) as error:
        model(torch.randn(2, 3, 56, 56), torch.randn(2, 3, 56, 56))
    message = str(error.value)
    assert "\n" not in message
    assert "gamdss-small" in message and "3x64x64" in message and "(2, 3, 56, 56)" in message


def test_an_input_size_the_stages_cannot_halve_is_a_config_error():
    with pytest.raises(ConfigError, match="divisible by 16"):
        GamdssConfig(label="odd", input_size=56, dims=(16, 32, 64, 64))
