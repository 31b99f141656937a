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
