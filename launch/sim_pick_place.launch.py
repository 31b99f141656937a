"""Simulated pick-and-place: sim_node (PyBullet work cell) + policy_node + controller_node.

    ros2 launch jafm_robot sim_pick_place.launch.py [params_file:=/path/to.yaml]

Without ROS 2 ``launch``: ``jafm-robot bringup --sim`` starts the same nodes with the same YAML.
Parameters: ``launch/params/sim_pick_place.yaml`` (keys declared in jafm_robot/ros/params.py).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

NODES = ["sim_node", "policy_node", "controller_node"]
PARAMS = "sim_pick_place.yaml"


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory("jafm_robot"), "launch", "params", PARAMS)
    params = LaunchConfiguration("params_file")
    return LaunchDescription(
        [
            DeclareLaunchArgument("params_file", default_value=default_params, description="node parameters (YAML)"),
            Node(package="jafm_robot", executable="sim_node", name="sim_node", output="screen", parameters=[params]),
            Node(package="jafm_robot", executable="policy_node", name="policy_node", output="screen", parameters=[params]),
            Node(
                package="jafm_robot",
                executable="controller_node",
                name="controller_node",
                output="screen",
                parameters=[params],
            ),
        ]
    )
