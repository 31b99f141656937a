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


def understood_line(readout: dict[str, Any]) -> str:
    """What the instruction gate made of the instruction, in one line: the goal, or the refusal."""
    if not readout:
        return ""
    if not readout.get("understood"):
        return f"REFUSED: {readout.get('reason')}"

    def part(p: dict[str, str] | None) -> str:
        return f"{p['color']} {p['shape']}" if p else ""

    goal = {"PickPlace": f"{part(readout.get('part'))} -> {readout.get('bin')} bin",
            "ConveyorPick": f"{part(readout.get('part'))} (conveyor) -> {readout.get('bin')} bin",
            "Stack": f"{part(readout.get('part'))} on {part(readout.get('base'))}",
            "Reach": f"above {part(readout.get('part'))}", "Sort": "all parts by colour"}.get(readout.get("task", ""), "")
    return f"understood: {readout.get('task')}: {goal} ({readout.get('confidence', 0):.2f})"


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
        head = [f"{ep.task} [{ep.language}] seed {ep.seed}", ep.instruction]
        if line := understood_line(getattr(ep, "understood", {})):
            head.append(line)
        out.append(overlay(f, head, scale=scale,
                           footer=[stats, outcome if last else f"t = {i / 10:.1f} s"]))
    return out

