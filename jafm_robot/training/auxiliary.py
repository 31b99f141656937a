"""Auxiliary training targets: where the demonstration grasped and where it released.

Behaviour cloning from a few hundred demonstrations first learns the *average* reach, a hand's
width from every part: the action loss says little about which pixels matter. Asking the network
to also say, from any frame, where the named part is picked and where it is put (an auxiliary loss
on privileged information, as in e.g. "Learning to See before Learning to Act") makes the vision
and language paths ground the instruction long before the action loss alone would.

The targets need no extra recording: the expert closes its fingers on the part and opens them over
the bin, so the end-effector position (forward kinematics of the recorded joint state) at those two
moments *is* the pick point and the place point. They are used only in training; the deployed graph
never outputs them.
"""

from __future__ import annotations

import numpy as np

from jafm_robot.runtime.kinematics import panda_fk

AUX_DIM = 6  # pick xyz, place xyz (m, robot base frame)
CLOSE_BELOW = 0.01  # gripper target (m) under which the expert is closing on a part
OPEN_ABOVE = 0.03  # gripper target (m) above which a closed hand is releasing


def grasp_place_targets(state: np.ndarray, action: np.ndarray, episode_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: (float32[N, 6] pick+place xyz of its episode, bool[N] valid).

    An episode without a close (e.g. Reach) or without a release after it is marked invalid and its
    frames are left out of the auxiliary loss.
    """
    state = np.asarray(state, dtype=np.float64)
    action = np.asarray(action, dtype=np.float64)
    ep = np.asarray(episode_index)
    out = np.zeros((len(ep), AUX_DIM), np.float32)
    valid = np.zeros(len(ep), bool)
    for e in np.unique(ep):
        rows = np.flatnonzero(ep == e)
        grip = action[rows, 7]
        closing = np.flatnonzero(grip < CLOSE_BELOW)
        if not len(closing):
            continue
        c = closing[0]
        opening = np.flatnonzero(grip[c:] > OPEN_ABOVE)
        if not len(opening):
            continue
        o = c + opening[0]
        out[rows, :3] = panda_fk(state[rows[c], :7])
        out[rows, 3:] = panda_fk(state[rows[o], :7])
        valid[rows] = True
    return out, valid
