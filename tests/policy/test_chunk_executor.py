"""ChunkExecutor: how eval (and DAgger) turn chunks into one action point per env step."""

from __future__ import annotations

import numpy as np

from jafm_robot.policies.inference import ChunkExecutor

HOME = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785, 0.08])


class _Ramp:
    """A policy whose chunk walks joint 0 forward from the observed state: 0.01 rad per point."""

    chunk_len = 10
    action_dt = 0.1

    def predict(self, obs: dict) -> np.ndarray:
        pts = np.tile(np.asarray(obs["state"], np.float32), (self.chunk_len, 1))
        pts[:, 0] += 0.01 * np.arange(1, self.chunk_len + 1)
        return pts


def _episode(ex: ChunkExecutor, steps: int = 20) -> np.ndarray:
    state = HOME.astype(np.float32).copy()
    ex.reset()
    out = []
    for _ in range(steps):
        a = ex({"state": state})
        out.append(a)
        state = a.copy()  # a perfect tracker
    return np.stack(out)


def test_every_episode_starts_a_new_timeline():
    """Reused across episodes (as eval does), the executor acts in episode 2 exactly as a fresh one
    does in episode 1; it once kept the blender's newest stamp and dropped every later chunk."""
    ex = ChunkExecutor(_Ramp(), replan_every=5)  # type: ignore[arg-type]
    first = _episode(ex)
    second = _episode(ex)
    fresh = _episode(ChunkExecutor(_Ramp(), replan_every=5))  # type: ignore[arg-type]
    np.testing.assert_allclose(second, fresh, atol=1e-7)
    np.testing.assert_allclose(first, fresh, atol=1e-7)
    assert second[-1, 0] - HOME[0] > 0.1  # and it moves
    assert ex.blender.stats()["chunks_dropped_old"] == 0


class _Flip:
    """A policy that changes its mind every inference: +0.1 rad on joint 0, then -0.1, then +0.1..."""

    chunk_len = 10
    action_dt = 0.1

    def __init__(self) -> None:
        self.n = 0

    def predict(self, obs: dict) -> np.ndarray:
        self.n += 1
        pts = np.tile(HOME.astype(np.float32), (self.chunk_len, 1))
        pts[:, 0] += 0.1 if self.n % 2 else -0.1
        return pts


def test_overlapping_chunks_are_averaged_as_the_runtime_averages_them():
    """Re-planned every half chunk, a policy that flips between +0.1 and -0.1 rad is executed at the
    mean of its last two chunks (0) in the steps they share; with ``overlap_weight=1`` it swings."""
    averaged = _episode(ChunkExecutor(_Flip(), replan_every=5), steps=30)  # type: ignore[arg-type]
    swinging = _episode(ChunkExecutor(_Flip(), replan_every=5, overlap_weight=1.0), steps=30)  # type: ignore[arg-type]
    # every re-plan after the first: the first point is due when the previous chunk still speaks
    assert np.abs(averaged[10:, 0] - HOME[0]).max() < 0.06
    assert np.abs(swinging[10:, 0] - HOME[0]).max() > 0.09
