"""jafm_robot.ros."""
