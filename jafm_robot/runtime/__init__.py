"""jafm_robot.runtime."""
