"""Starting or joining Ray, quietly, once per process. Ray is imported only here and in ray_tune.py."""

from __future__ import annotations

import os
import socket
from typing import Any

from mer_bench.errors import ConfigError

# Tune's console reporter, usage stats and per-trial loggers: mer-bench shows its own progress and
# writes its own records. Set before Ray is imported, since Ray reads some of them at import time.
QUIET_ENV = {
    "RAY_AIR_NEW_OUTPUT": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_DEDUP_LOGS": "1",
    "TUNE_MAX_PENDING_TRIALS_PG": "64",
    # Trials keep the driver's working directory, so relative paths mean the same thing everywhere.
    "RAY_CHDIR_TO_TRIAL_DIR": "0",
    # Ctrl+C interrupts the run (exit 130; finished folds are kept for --resume). Tune's own
    # handler would end the experiment quietly instead, and every unfinished job would then be
    # reported as failed, with exit status 1.
    "TUNE_DISABLE_SIGINT_HANDLER": "1",
}


def quiet_ray_environment() -> None:
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


def start_ray(address: str | None = None, *, num_cpus: int | None = None,
              num_gpus: float | None = None) -> Any:
    """Join the cluster at ``address``, or start an embedded Ray; reuse one already started.

    An unreachable address is a user error (exit 2), not a traceback.
    """
    quiet_ray_environment()
    if address:
        check_reachable(address)
    import ray

    if ray.is_initialized():
        return ray
    common = {"logging_level": "ERROR", "log_to_driver": False}
    if address:
        try:
            ray.init(address=address, **common)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ConfigError(f"cannot reach a Ray cluster at --address {address} ({reason}); start "
                              "one with 'ray start --head', or leave --address out to run Ray "
                              "embedded") from None
        return ray
    # address="local": always a new embedded Ray, never a cluster some earlier `ray start` left
    # recorded in Ray's temp folder.
    kwargs: dict[str, Any] = {"address": "local", "include_dashboard": False, **common}
    if num_cpus is not None:
        kwargs["num_cpus"] = num_cpus
    if num_gpus is not None:
        kwargs["num_gpus"] = num_gpus
    ray.init(**kwargs)
    return ray


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on an address nothing listens on: ray.init would retry for minutes."""
    host_port = address.removeprefix("ray://").rsplit("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and the like: Ray resolves and reports them itself
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as error:
        raise ConfigError(f"cannot reach a Ray cluster at --address {address} "
                          f"({error.strerror or error}); start one with 'ray start --head', or "
                          "leave --address out to run Ray embedded") from None


def cluster_gpus(ray: Any) -> float:
    return float(ray.cluster_resources().get("GPU", 0.0))
