"""jafm_robot: a Physical-AI control stack for robot arms.

Importing the package registers the gymnasium environments (``jafm_robot/PickPlace-v0`` …) so that
``gymnasium.make`` works after ``import jafm_robot``; gymnasium also finds them through the
``gymnasium.envs`` entry point.
"""

__version__ = "0.1.0"


def _register() -> None:
    try:
        from jafm_robot.envs.registration import register_envs
    except ImportError:  # the envs package is optional for the runtime-only install
        return
    register_envs()


_register()
