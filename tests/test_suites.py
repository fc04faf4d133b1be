"""Suites: globs over protocol ids, and the data each suite needs."""

from mer_bench.protocols import protocol_registry
from mer_bench.suites import Suite, suite_registry


def test_glob_entries_expand_over_registered_protocols_without_repeats():
    suite = Suite("s", "", ("casme2-*", "casme2-5class", "samm-5class"), ("ststnet",),
                  ("annotated",), (0,))
    ids = suite.protocol_ids()
    casme2 = protocol_registry().names("casme2-*")
    assert ids[:len(casme2)] == casme2 and "casme2-3class" in casme2
    assert ids.count("casme2-5class") == 1 and ids[-1] == "samm-5class"


def test_every_suite_names_existing_protocols_models_and_strategies():
    from mer_bench.keyframes import KEYFRAME_STRATEGIES
    from mer_bench.models import MODELS

    suites = suite_registry()
    for name in suites.names():
        suite = suites.get(name)
        assert suite.protocol_ids(), name
        for pid in suite.protocol_ids():
            protocol_registry().get(pid)
        for model in suite.models:
            MODELS.get(model)  # raises for an unknown name; resolves families such as timm:
        for strategy in suite.keyframes:
            assert strategy in KEYFRAME_STRATEGIES
