"""jafm_robot.datasets."""
