"""Scripted experts, one per task, driven by privileged simulator state and iterated IK.

``make_expert(env)`` returns the task's :class:`~jafm_robot.experts.base.Expert`; call
``expert.reset()`` after ``env.reset()`` (``rollout`` does) and ``expert.act(obs)`` once per step.
The experts produce the demonstrations the policies learn from, and their success rate is the
ceiling a policy is compared against. Grasps hold by friction only (see ``README.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jafm_robot.contract import TASKS

if TYPE_CHECKING:
    from jafm_robot.experts.base import Expert


def make_expert(env: Any) -> Expert:
    """The scripted expert for ``env``'s task (ValueError for an unknown task).

    Imports are lazy: the expert modules pull in pybullet, ``import jafm_robot.experts`` must not.
    """
    from jafm_robot.experts.conveyor_pick import ConveyorPickExpert
    from jafm_robot.experts.pick_place import PickPlaceExpert
    from jafm_robot.experts.reach import ReachExpert
    from jafm_robot.experts.sort import SortExpert
    from jafm_robot.experts.stack import StackExpert

    table = {
        "Reach": ReachExpert,
        "PickPlace": PickPlaceExpert,
        "ConveyorPick": ConveyorPickExpert,
        "Stack": StackExpert,
        "Sort": SortExpert,
    }
    name = getattr(getattr(env.unwrapped, "task", None), "name", None)
    if name not in table:
        raise ValueError(f"no expert for task {name!r}; experts exist for {', '.join(TASKS)}")
    return table[name](env)


__all__ = ["make_expert"]
