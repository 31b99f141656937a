"""User-side teacher callables imported by spec (``tests.distill.teacher_fixtures:...``).

They stand in for what a user writes next to their own model: plain functions, no jafm_robot base
class. ``constant_chunk`` returns a chunk no other part of the stack would produce (point i =
the Panda home pose + 0.01 * i on every joint), so a test can tell its labels apart from anything
the expert, the student or the env generated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

HOME = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785, 0.04], dtype=np.float32)
CHUNK_LEN = 10
CONSTANT = (HOME[None, :] + 0.01 * np.arange(CHUNK_LEN, dtype=np.float32)[:, None]).astype(np.float32)
CONSTANT[:, 7] = 0.04  # gripper width stays inside its limits


def constant_chunk(obs: dict[str, Any]) -> np.ndarray:
    """Ignores the observation: the recognisable chunk."""
    return CONSTANT.copy()


def state_plus_env(obs: dict[str, Any], env: Any) -> np.ndarray:
    """Takes the env too (a privileged teacher); a chunk of 3 points that hold the current state."""
    assert env is not None, "a two-argument teacher must be given the env"
    return np.repeat(np.asarray(obs["state"], np.float32)[None], 3, 0)


class LabelObject:
    """An object with a ``label`` method (a user's own teacher class, no arguments)."""

    def label(self, obs: dict[str, Any], env: Any = None) -> np.ndarray:
        return CONSTANT[:4] * 1.0


def wrong_shape(obs: dict[str, Any]) -> np.ndarray:
    return np.zeros((10, 7), np.float32)


def returns_nan(obs: dict[str, Any]) -> np.ndarray:
    out = CONSTANT.copy()
    out[3, 2] = np.nan
    return out


NOT_CALLABLE = 42
