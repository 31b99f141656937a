"""jafm_robot.envs."""
