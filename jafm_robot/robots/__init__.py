"""Robot descriptions. ``config`` is pure Python (no PyBullet) so the runtime can use it."""

from jafm_robot.robots.config import RobotConfig, load_robot_config

__all__ = ["RobotConfig", "load_robot_config"]
