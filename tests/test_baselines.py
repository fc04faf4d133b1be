"""The baseline zoo: each model builds, trains a step, has a pinned size, rejects other sizes."""

import pytest
import torch

from mer_bench.errors import ConfigError, UnknownNameError
from mer_bench.models import MODELS, check_input_size, count_flops, count_parameters

# name -> (channels of each input, parameters at 3 classes, at 5 classes)
SMALL_MODELS = {
    "offapexnet": ([2], 807_909, 809_959),
    "mmnet-small": ([3, 3], 637_859, 638_373),
    "htnet-small": ([3], 2_455_811, 2_456_325),
}


def _inputs(spec, channels, batch=4, size=None):
    size = size or spec.input_size
    return [torch.randn(batch, c, size, size) for c in channels]


def test_offapexnet_has_the_meb_parameter_count_on_two_flow_channels():
    spec = MODELS.get("offapexnet")
    assert count_parameters(spec.build(3)) == 807_909
    assert spec.inputs == ("flow",) and spec.input_size == 28


@pytest.mark.parametrize("name", sorted(SMALL_MODELS))
def test_model_has_its_recorded_parameter_count(name):
    channels, at_3, at_5 = SMALL_MODELS[name]
    spec = MODELS.get(name)
    assert len(channels) == len(spec.inputs)
    assert count_parameters(spec.build(3)) == at_3
    assert count_parameters(spec.build(5)) == at_5


@pytest.mark.parametrize("name", sorted(SMALL_MODELS))
def test_model_forward_shape_and_one_training_step_change_the_weights(name):
    torch.manual_seed(0)
    spec = MODELS.get(name)
    model = spec.build(5)
    x, y = _inputs(spec, SMALL_MODELS[name][0]), torch.tensor([0, 1, 2, 4])
    assert model(*x).shape == (4, 5)
    before = [p.detach().clone() for p in model.parameters()]
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    torch.nn.functional.cross_entropy(model(*x), y).backward()
    optimiser.step()
    changed = [not torch.equal(a, b) for a, b in zip(before, model.parameters())]
    assert sum(changed) > 0.9 * len(changed)  # gradients reach (almost) every tensor


@pytest.mark.parametrize("name", sorted(SMALL_MODELS))
def test_flops_are_counted(name):
    flops = count_flops(MODELS.get(name), 5, SMALL_MODELS[name][0])
    assert flops > count_parameters(MODELS.get(name).build(5))  # at least a multiply per weight


def test_htnet_reference_size_is_counted_without_allocating_it():
    spec = MODELS.get("htnet")
    with torch.device("meta"):
        assert count_parameters(spec.build(3)) == 128_623_619
        assert count_flops(spec, 3, [3]) > 0


def test_htnet_lowest_level_keeps_each_facial_quadrant_to_itself():
    torch.manual_seed(0)
    model = MODELS.get("htnet-small").build(3).eval()
    x = torch.randn(1, 3, 28, 28)
    moved = x.clone()
    moved[..., :14, :14] += 1.0  # motion in the top-left region only
    lowest = torch.nn.Sequential(model.embed, model.levels[0])
    with torch.no_grad():
        change = (lowest(moved) - lowest(x)).abs().sum(dim=1)[0]  # per token, 4x4 grid
    assert change[:2, :2].min() > 0
    change[:2, :2] = 0
    assert change.max() == 0


def test_mmnet_position_branch_reads_the_start_frame():
    torch.manual_seed(0)
    model = MODELS.get("mmnet-small").build(3).eval()
    diff, frame = _inputs(MODELS.get("mmnet-small"), [3, 3], batch=2)
    with torch.no_grad():
        assert not torch.allclose(model(diff, frame), model(diff, frame + 1.0))


@pytest.mark.parametrize("name", ["resnet18", "convnext_atto"])
def test_timm_cnn_builds_on_flow_strain_at_112(name):
    spec = MODELS.get(f"timm:{name}")
    assert spec.name == f"timm:{name}" and spec.inputs == ("flow-strain",)
    assert spec.input_size == 112
    model = spec.build(5).eval()
    first_conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.in_channels == 3
    with torch.no_grad():
        assert model(*_inputs(spec, [3], batch=2)).shape == (2, 5)
    assert count_flops(spec, 5, [3]) > 0


def test_timm_vit_keeps_its_fixed_input_size():
    assert MODELS.get("timm:vit_tiny_patch16_224").input_size == 224


def test_unknown_timm_model_suggests_close_names():
    with pytest.raises(UnknownNameError, match=r"did you mean timm:\w+"):
        MODELS.get("timm:nonexistent_model")


def test_input_size_a_vit_cannot_take_is_one_config_error_line():
    spec = MODELS.get("timm:vit_tiny_patch16_224")
    check_input_size(spec, 224, [3])
    with pytest.raises(ConfigError) as caught:
        check_input_size(spec, 112, [3])
    message = str(caught.value)
    assert "timm:vit_tiny_patch16_224" in message and "112x112" in message and "224" in message
    assert "\n" not in message


@pytest.mark.parametrize("name", sorted(SMALL_MODELS))
def test_small_models_take_their_own_size_and_reject_another(name):
    spec, channels = MODELS.get(name), SMALL_MODELS[name][0]
    check_input_size(spec, spec.input_size, channels)
    with pytest.raises(ConfigError, match=f"cannot take {spec.input_size + 4}x"):
        check_input_size(spec, spec.input_size + 4, channels)


@pytest.mark.parametrize("name", ["htnet-small", "mmnet-small"])
def test_flop_count_on_cpu_includes_attention(name):
    spec = MODELS.get(name)
    channels = SMALL_MODELS[name][0]
    on_cpu = count_flops(spec, 5, channels)
    with torch.device("meta"):  # meta tensors run attention as plain matmuls, always counted
        on_meta = count_flops(spec, 5, channels)
    assert on_cpu == on_meta


@pytest.mark.parametrize("name", sorted(SMALL_MODELS))
def test_model_reads_registered_representations_with_the_channels_it_expects(name):
    from mer_bench.inputs.representations import INPUTS

    spec = MODELS.get(name)
    assert [INPUTS.get(kind).channels for kind in spec.inputs] == SMALL_MODELS[name][0]
    check_input_size(spec, spec.input_size)
