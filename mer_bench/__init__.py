"""mer-bench: a benchmark harness for facial micro-expression recognition.

The Python API (`mer_bench.api`) is available from here: ``mer_bench.run``, ``load_records``,
``load_predictions``, ``compare``, ``leaderboard``, ``plan``, ``estimate``. It is imported on
first use, so ``import mer_bench`` stays light.
"""

__version__ = "0.1.0"

_API = ("compare", "estimate", "leaderboard", "load_predictions", "load_records", "plan", "run")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from mer_bench import api

        return getattr(api, name)
    raise AttributeError(f"module 'mer_bench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
