"""The generic registry: lazy entries, duplicate names, did-you-mean."""

import pytest

from mer_bench.errors import ConfigError, UnknownNameError
from mer_bench.registry import Registry


def test_lazy_entry_is_resolved_only_on_get():
    registry = Registry("thing")
    registry.register("join", "os.path:join")
    assert registry.names() == ["join"]
    import os.path

    assert registry.get("join") is os.path.join


def test_lazy_entry_to_missing_module_fails_only_when_used():
    registry = Registry("thing")
    registry.register("ghost", "no_such_module_anywhere:thing")
    assert "ghost" in registry
    with pytest.raises(ModuleNotFoundError):
        registry.get("ghost")


def test_duplicate_name_is_an_error():
    registry = Registry("model")
    registry.register("a", object())
    with pytest.raises(ConfigError, match="registered twice"):
        registry.register("a", object())


def test_unknown_name_suggests_close_names():
    registry = Registry("model")
    for name in ("ststnet", "offapexnet", "resnet18"):
        registry.register(name, name)
    with pytest.raises(UnknownNameError, match="did you mean ststnet"):
        registry.get("ststnet2")


def test_decorator_registration_and_glob():
    registry = Registry("model")

    @registry.register("timm:resnet18")
    def build():
        return 1

    registry.register("ststnet", build)
    assert registry.names("timm:*") == ["timm:resnet18"]
    assert registry.get("timm:resnet18") is build


def test_plugins_are_found_through_entry_points():
    from mer_bench.keyframes import KEYFRAME_STRATEGIES
    from mer_bench.models import MODELS

    assert "ststnet" in MODELS.names()
    assert {"annotated", "gamdss"} <= set(KEYFRAME_STRATEGIES.names())


def test_family_entries_are_built_on_demand_and_remembered():
    registry = Registry("model")
    built = []

    def factory(rest: str) -> str:
        if rest == "missing":
            raise UnknownNameError(f"no model {rest!r}")
        built.append(rest)
        return f"built {rest}"

    registry.register_family("timm:", factory)
    assert registry.get("timm:resnet18") == "built resnet18"
    assert registry.get("timm:resnet18") == "built resnet18"
    assert built == ["resnet18"]
    with pytest.raises(UnknownNameError, match="missing"):
        registry.get("timm:missing")
    with pytest.raises(UnknownNameError, match="timm:<name>"):
        registry.get("tim:resnet18")
