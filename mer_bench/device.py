"""Which torch device a fold trains on: ``--device auto|cpu|cuda[:N]``, checked before anything runs.

``auto`` is CUDA where torch sees a GPU, else the CPU. An executor resolves the request where its
folds train: the local executor on this machine (`resolve_device`), a Ray trial in its worker on
the GPU share Ray gave it (`trial_device`). CUDA is only ever asked about through
``torch.cuda.is_available`` / ``device_count``, so tests can mock a GPU in or out.
"""

from __future__ import annotations

import re

from mer_bench.errors import ConfigError

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"
_PATTERN = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")


def check_device_spec(spec: str) -> str:
    """``spec`` if it is well formed (``auto``, ``cpu``, ``cuda``, ``cuda:N``), else a one-line error."""
    match = _PATTERN.match(str(spec).strip().lower())
    if not match or (match.group(2) is not None and match.group(1) != "cuda"):
        raise ConfigError(f"--device {spec}: use one of {DEVICE_CHOICES}")
    return match.group(0)


def cuda_count() -> int:
    """GPUs torch can use here (0 without CUDA)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_device(spec: str) -> str:
    """The device a process on this machine trains on: ``cpu``, ``cuda`` or ``cuda:N``.

    One-line errors: ``cuda`` without CUDA, ``cuda:N`` beyond the GPUs present.
    """
    spec = check_device_spec(spec)
    gpus = cuda_count()
    if spec == "auto":
        return "cuda" if gpus else "cpu"
    if spec == "cpu":
        return spec
    if not gpus:
        raise ConfigError(f"--device {spec}: torch sees no CUDA GPU on this machine; use "
                          "--device cpu (or auto, which takes a GPU only where there is one)")
    index = int(spec.partition(":")[2] or 0)
    if index >= gpus:
        raise ConfigError(f"--device {spec}: this machine has {gpus} CUDA GPU"
                          f"{'s' if gpus != 1 else ''} (cuda:0 to cuda:{gpus - 1})")
    return spec


def trial_device(spec: str, gpu_ids: list) -> str:
    """The device of a Ray trial given ``gpu_ids`` (``ray.get_gpu_ids()``): Ray sets
    CUDA_VISIBLE_DEVICES to the share it granted, which torch then numbers from 0. Under
    ``auto`` a GPU torch cannot use (a resource declared on a node without CUDA) means the CPU."""
    usable = bool(gpu_ids) and cuda_count() > 0
    if spec == "cuda" and not usable:
        raise ConfigError(f"--device cuda: this Ray worker has {'no usable' if gpu_ids else 'no'} "
                          f"GPU (granted: {gpu_ids or 'none'}); use --device auto or cpu")
    return "cuda" if usable and spec != "cpu" else "cpu"


def describe_device(device: str) -> str:
    """What a record keeps: ``cpu``, or the CUDA device with its model name."""
    if not device.startswith("cuda"):
        return device
    import torch

    return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"


def check_amp(device: str) -> None:
    """Mixed precision trains in bfloat16 autocast, on the CPU as on CUDA; older GPUs lack it."""
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_bf16_supported():
            raise ConfigError(f"amp=true trains in bfloat16, which {describe_device(device)} does "
                              "not support; drop amp=true or use a newer GPU")
