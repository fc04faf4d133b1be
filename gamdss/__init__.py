"""GAMDSS: keyframe reselection (and, later, the two-branch model) as a mer-bench plugin."""

from gamdss.reselect import GamdssStrategy, reselect_gamdss, two_stage_search

__all__ = ["GamdssStrategy", "reselect_gamdss", "two_stage_search"]
