"""jafm_robot.experts."""
