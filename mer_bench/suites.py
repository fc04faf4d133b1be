"""Named suites (protocol_files/suites.yaml): which cells `mer-bench run --suite S` expands to."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from mer_bench.errors import ConfigError
from mer_bench import protocol_files
from mer_bench.registry import Registry

# The twin scale of the training commands (run, tune, visualize) unless --twin-scale or a suite says
# otherwise: the oracle and quick suites' scale (`all` runs at 0.10 so that `make run` fits in
# 10 minutes on 2 cores). The data commands
# (synth, reselect, reselection-study, protocols --check) default to full-size twins, FULL_TWIN_SCALE.
DEFAULT_TWIN_SCALE = 0.15
FULL_TWIN_SCALE = 1.0


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    protocols: tuple[str, ...]
    models: tuple[str, ...]
    keyframes: tuple[str, ...]
    seeds: tuple[int, ...]
    # model selection modes (fixed-epochs, oracle); oracle only to measure its inflation
    selections: tuple[str, ...] = ("fixed-epochs",)
    # twins are generated at this fraction of the real datasets' size unless --twin-scale says
    twin_scale: float = DEFAULT_TWIN_SCALE

    def protocol_ids(self) -> list[str]:
        """The suite's protocols; entries may be globs ('*', 'casme2-*') over registered ids."""
        from mer_bench.protocols import protocol_registry

        registry = protocol_registry()
        ids: list[str] = []
        for entry in self.protocols:
            matched = registry.names(entry) if any(c in entry for c in "*?[") else [entry]
            ids.extend(pid for pid in matched if pid not in ids)
        return ids


def suite_registry() -> Registry[Suite]:
    path = protocol_files.folder() / "suites.yaml"
    registry: Registry[Suite] = Registry("suite")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read suites ({error}); restore the file")
    for name, body in document.items():
        try:
            registry.register(name, Suite(
                name=name,
                description=body.get("description", ""),
                protocols=tuple(body["protocols"]),
                models=tuple(body["models"]),
                keyframes=tuple(body["keyframes"]),
                seeds=tuple(int(s) for s in body["seeds"]),
                selections=tuple(body.get("selections", ["fixed-epochs"])),
                twin_scale=float(body.get("twin_scale", DEFAULT_TWIN_SCALE)),
            ))
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"{path}: suite {name!r} is malformed ({error}); it needs "
                              "protocols, models, keyframes and seeds lists")
    return registry
