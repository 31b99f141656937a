"""A real arm: camera_node (USB camera) + policy_node + controller_node -> ros2_control.

    ros2 launch jafm_robot robot.launch.py \
        command_topic:=/forward_position_controller/commands [params_file:=/path/to.yaml]

The arm runs a ros2_control ``forward_command_controller/ForwardCommandController`` over the 7 joints
and the gripper width; ``command_topic`` remaps controller_node's output to its command topic.
Without ROS 2 ``launch``: ``jafm-robot bringup --command-topic TOPIC`` starts the same nodes.
Parameters: ``launch/params/robot.yaml`` (keys declared in jafm_robot/ros/params.py).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

NODES = ["camera_node", "policy_node", "controller_node"]
PARAMS = "robot.yaml"
COMMAND_TOPIC = "/forward_position_controller/commands"


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory("jafm_robot"), "launch", "params", PARAMS)
    params = LaunchConfiguration("params_file")
    command_topic = LaunchConfiguration("command_topic")
    return LaunchDescription(
        [
            DeclareLaunchArgument("params_file", default_value=default_params, description="node parameters (YAML)"),
            DeclareLaunchArgument(
                "command_topic", default_value=COMMAND_TOPIC, description="the forward position controller's topic"
            ),
            Node(package="jafm_robot", executable="camera_node", name="camera_node", output="screen", parameters=[params]),
            Node(package="jafm_robot", executable="policy_node", name="policy_node", output="screen", parameters=[params]),
            Node(
                package="jafm_robot",
                executable="controller_node",
                name="controller_node",
                output="screen",
                parameters=[params],
                remappings=[(COMMAND_TOPIC, command_topic)],
            ),
        ]
    )
