"""Video of real-time episodes: frames with the instruction, the outcome and the loop statistics.

The frames only; :func:`jafm_robot.video.write_video` (the package's one writer) encodes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jafm_robot.hosts.overlay import overlay


def outcome_label(success: bool, outcome: str = "") -> str:
    """The last frames' footer: ``SUCCESS``, or ``FAILED: <how>`` when the outcome is known."""
    return "SUCCESS" if success else f"FAILED: {outcome}" if outcome else "FAILED"


def episode_frames(ep: Any, scale: int = 2) -> list[np.ndarray]:
    """Overlay every video frame of a :class:`~jafm_robot.hosts.realtime.RunEpisode`."""
    lp, pol = ep.loop, ep.policy
    outcome = outcome_label(ep.success, ep.outcome)
    stats = (f"loop {lp.get('rate_hz', 0):.0f} Hz  p99 err {lp.get('period_error_p99_us', float('nan')):.0f} us  "
             f"misses {lp.get('misses', 0)}  inference p50 {pol.get('latency_p50_ms', float('nan')):.1f} ms")
    out = []
    n = len(ep.video)
    for i, f in enumerate(ep.video):
        last = i >= n - 3
        out.append(overlay(f, [f"{ep.task} [{ep.language}] seed {ep.seed}", ep.instruction], scale=scale,
                           footer=[stats, outcome if last else f"t = {i / 10:.1f} s"]))
    return out

