"""Change-point detection for benchmark series (plain Python; no Dagster needed).

``detect`` / ``detect_many`` find change points with two methods, ``rbf`` (ruptures' PELT with the RBF kernel,
re-implemented exactly and much faster in ``detection.rbf``) and ``asv`` (asv's own step detection, reproduced
exactly and faster in ``detection.asvfast``), and qualify each with segment statistics, a Mann-Whitney U test, a
magnitude floor and the benchmark's direction. ``python -m bench.detection`` times both against the plain
library loops on the django dashboard.
"""

from detection.asvfast import detect_steps as asv_detect_steps
from detection.asvfast import detect_steps_many as asv_detect_steps_many
from detection.ddl import DETECTION_DDL
from detection.rbf import rbf_breakpoints, rbf_reference
from detection.steps import (
    METHODS,
    RBF_PENALTY_MULTIPLIER,
    ChangePoint,
    DetectionConfig,
    asv_weights,
    better_direction,
    detect,
    detect_many,
    persisting_regressions,
)

__all__ = [
    "DETECTION_DDL",
    "METHODS",
    "RBF_PENALTY_MULTIPLIER",
    "ChangePoint",
    "DetectionConfig",
    "asv_detect_steps",
    "asv_detect_steps_many",
    "asv_weights",
    "better_direction",
    "detect",
    "detect_many",
    "persisting_regressions",
    "rbf_breakpoints",
    "rbf_reference",
]
