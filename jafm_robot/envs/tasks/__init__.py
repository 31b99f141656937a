"""jafm_robot.envs.tasks."""
