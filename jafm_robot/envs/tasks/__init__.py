"""The five tasks, one file each; ``TASK_CLASSES`` maps the contract's task names to classes."""

from jafm_robot.envs.tasks.base import Task
from jafm_robot.envs.tasks.conveyor_pick import ConveyorPick
from jafm_robot.envs.tasks.pick_place import PickPlace
from jafm_robot.envs.tasks.reach import Reach
from jafm_robot.envs.tasks.sort import Sort
from jafm_robot.envs.tasks.stack import Stack

TASK_CLASSES: dict[str, type[Task]] = {
    "Reach": Reach,
    "PickPlace": PickPlace,
    "ConveyorPick": ConveyorPick,
    "Stack": Stack,
    "Sort": Sort,
}

__all__ = ["TASK_CLASSES", "ConveyorPick", "PickPlace", "Reach", "Sort", "Stack", "Task"]
