"""The ``timm:<name>`` family: any timm architecture, untrained, on the flow + strain input.

Models are created with ``pretrained=False`` (no network at run time), ``in_chans`` set to the
input's channels and ``num_classes`` to the protocol's. Input size: an architecture that fixes it
(ViTs, Swin, MLP-Mixer: ``fixed_input_size`` in its pretrained config) gets its own size; any
other gets 112 (raised to its ``min_input_size`` if it declares one), which keeps CNNs trainable
on a CPU while leaving enough resolution for five downsamplings.
"""

from __future__ import annotations

import difflib
from functools import partial

from torch import nn

from mer_bench.errors import UnknownNameError
from mer_bench.models import ModelSpec, TrainingBudget

PREFIX = "timm:"
FREE_INPUT_SIZE = 112
INPUT = "flow-strain"
INPUT_CHANNELS = 3
# Generic backbones have no published MER budget; this one finishes in CPU time on small folds.
TIMM_BUDGET = TrainingBudget(epochs=20, batch_size=32, lr=5e-4, weight_decay=0.05)


def default_input_size(name: str) -> int:
    """The architecture's own size where it is fixed, else FREE_INPUT_SIZE."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    if cfg is None:
        return FREE_INPUT_SIZE
    if cfg.fixed_input_size:
        return int(cfg.input_size[-1])
    minimum = int(cfg.min_input_size[-1]) if cfg.min_input_size else 0
    return max(FREE_INPUT_SIZE, minimum)


def _create(name: str, num_classes: int) -> nn.Module:
    import timm

    return timm.create_model(name, pretrained=False, num_classes=num_classes,
                             in_chans=INPUT_CHANNELS)


def _unknown(name: str) -> UnknownNameError:
    import timm

    known = timm.list_models()
    close = (difflib.get_close_matches(name, known, n=3, cutoff=0.6)
             or difflib.get_close_matches(name, known, n=3, cutoff=0.4))
    hint = f"; did you mean {', '.join(PREFIX + c for c in close)}?" if close else ""
    return UnknownNameError(f"unknown timm model {name!r}{hint} "
                            f"(timm {timm.__version__} has {len(known)}; see timm.list_models())")


def timm_spec(name: str) -> ModelSpec:
    """The ModelSpec of ``timm:<name>``; raises UnknownNameError for a name timm does not have."""
    import timm

    if not name or not timm.is_model(name):
        raise _unknown(name)
    return ModelSpec(
        name=PREFIX + name,
        description=f"timm {name} (untrained) on onset->apex flow + strain",
        build=partial(_create, name),
        inputs=(INPUT,),
        input_size=default_input_size(name),
        budget=TIMM_BUDGET,
    )
