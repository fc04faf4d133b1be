"""GAMDSS: keyframe reselection (and, later, the two-branch model) as a mer-bench plugin."""

from gamdss.reselect import (
    ApexSearchStrategy,
    GamdssLegacyStrategy,
    GamdssStrategy,
    GamdssSymmetricStrategy,
    reselect_gamdss,
    two_stage_search,
)

__all__ = [
    "ApexSearchStrategy",
    "GamdssLegacyStrategy",
    "GamdssStrategy",
    "GamdssSymmetricStrategy",
    "reselect_gamdss",
    "two_stage_search",
]
