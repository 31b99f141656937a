"""Where the package's data lives: scene assets (``sim/``), launch files and shipped models.

The same code runs from a source checkout, from ``pip install -e .``, from a wheel install and from
a colcon workspace. Data files live at the repository root in a checkout and under
``<prefix>/share/jafm_robot`` once installed, so look in both places instead of hard-coding one.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

PACKAGE = "jafm_robot"


@cache
def share_dir() -> Path:
    """The folder that holds ``sim/``, ``launch/`` and ``models/``."""
    here = Path(__file__).resolve().parent.parent
    if (here / "sim").is_dir() and (here / "package.xml").is_file():
        return here
    candidates = [Path(sys.prefix) / "share" / PACKAGE]
    try:  # a colcon workspace
        from ament_index_python.packages import get_package_share_directory

        candidates.insert(0, Path(get_package_share_directory(PACKAGE)))
    except Exception:  # ament_index is optional and raises its own errors
        pass
    for c in candidates:
        if (c / "sim").is_dir():
            return c
    raise FileNotFoundError(
        f"cannot find the jafm_robot data folder (looked in {here} and {', '.join(map(str, candidates))})"
    )


def sim_dir() -> Path:
    return share_dir() / "sim"


def launch_dir() -> Path:
    return share_dir() / "launch"


def models_dir() -> Path:
    return share_dir() / "models"


# The shipped policies, newest first: ``demo``, ``policy_node`` and the ROS tests take the first present.
SHIPPED_MODELS = ("jafm_student_v1.onnx", "pick_place_v0.onnx")


def shipped_policy() -> Path | None:
    """The newest shipped policy under ``models/``, or None on a checkout that has none yet."""
    for name in SHIPPED_MODELS:
        path = models_dir() / name
        if path.is_file():
            return path
    return None
