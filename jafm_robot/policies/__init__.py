"""jafm_robot.policies."""
