"""STSTNet: published parameter count, forward shape, and that training learns."""

import numpy as np
import torch

from mer_bench.models import MODELS, count_parameters
from mer_bench.train import standardise, train_and_predict


def test_ststnet_has_the_published_parameter_count():
    spec = MODELS.get("ststnet")
    assert count_parameters(spec.build(3)) == 1683
    assert spec.input_size == 28 and spec.inputs == ("flow-strain",)


def test_ststnet_forward_and_one_training_step_change_the_weights():
    model = MODELS.get("ststnet").build(5)
    x, y = torch.randn(4, 3, 28, 28), torch.tensor([0, 1, 2, 4])
    assert model(x).shape == (4, 5)
    before = [p.detach().clone() for p in model.parameters()]
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimiser.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_trainer_learns_a_separable_problem_and_is_deterministic():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 20)
    x = rng.normal(size=(60, 3, 28, 28)).astype(np.float32)
    x[:, 0] += y[:, None, None] * 1.5  # the class shows in the first channel's level
    spec = MODELS.get("ststnet")
    first = train_and_predict(spec, 3, [x[::2]], y[::2], [x[1::2]], seed=3)
    second = train_and_predict(spec, 3, [x[::2]], y[::2], [x[1::2]], seed=3)
    assert (first.predictions == y[1::2]).mean() > 0.8
    np.testing.assert_array_equal(first.predictions, second.predictions)
    assert first.epoch_losses[-1] < first.epoch_losses[0]


def test_standardise_uses_training_statistics_only():
    train = np.ones((4, 3, 2, 2), np.float32) * np.arange(4)[:, None, None, None]
    test = np.full((1, 3, 2, 2), 100.0, np.float32)
    _, test_std = standardise(train, test)
    expected = (100 - 1.5) / (np.std(np.arange(4)) + 1e-6)
    np.testing.assert_allclose(test_std, expected, rtol=1e-5)


def test_learning_rate_decays_only_for_the_declared_epochs(monkeypatch):
    from dataclasses import replace

    spec = MODELS.get("ststnet")
    budget = replace(spec.budget, epochs=4, lr=1.0, lr_gamma=0.5, lr_decay_epochs=2)
    seen = []
    real_step = torch.optim.AdamW.step

    def recording_step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", recording_step)
    x = np.random.default_rng(0).normal(size=(4, 3, 28, 28)).astype(np.float32)
    train_and_predict(spec, 2, [x], np.array([0, 1, 0, 1]), [x], seed=0, budget=budget)
    assert seen == [1.0, 0.5, 0.25, 0.25]
