"""jafm_robot.sim."""
