"""jafm_robot: pip-installable *and* a valid ament_python package for ``colcon build``.

The data files (launch files, shipped models, scene assets, package.xml and the ament resource
marker) are installed under ``share/jafm_robot`` so that ``ros2 launch``/``ros2 run`` find them in a
ROS 2 workspace; when installed with pip the package finds the same files next to its source tree
or under ``<prefix>/share/jafm_robot`` (see ``jafm_robot.paths``).
"""

from __future__ import annotations

import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "jafm_robot"


def tree(src: str) -> list[tuple[str, list[str]]]:
    """data_files entries for every file below ``src``, keeping the folder layout."""
    out: dict[str, list[str]] = {}
    for path in glob(os.path.join(src, "**", "*"), recursive=True):
        if os.path.isfile(path) and "__pycache__" not in path:
            dest = os.path.join("share", PACKAGE, os.path.dirname(path))
            out.setdefault(dest, []).append(path)
    return sorted(out.items())


NODES = ["sim_node", "camera_node", "policy_node", "controller_node"]

setup(
    name=PACKAGE,
    version="0.1.0",
    description="Physical-AI control stack for robot arms (PyBullet work cell, VLA on ONNX Runtime, ROS 2).",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    python_requires=">=3.10",
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *tree("launch"),
        *tree("models"),
        *tree("sim"),
    ],
    install_requires=[
        "numpy>=1.24",
        "pyyaml>=6",
        "gymnasium>=1.0",
        "pybullet>=3.2.6",
        "onnx>=1.16",
        "onnxruntime>=1.18",
        "imageio>=2.30",
        "imageio-ffmpeg>=0.5",
        "av>=12",
        "pyarrow>=14",
        "pandas>=2",
        "tqdm>=4.60",
        "matplotlib>=3.7",
        "opencv-python-headless>=4.8",
        "pillow>=10",
        "matplotlib-fontja>=1.0",  # ships the IPAex Gothic font: Japanese text in video overlays
    ],
    extras_require={
        # torch is pinned: the CPU build of 2.13.0 is what the set-up script installs first.
        "train": ["torch==2.13.0", "tensorboard>=2.14"],
        "ros": [
            "ros-rclpy",
            "ros-rmw-fastrtps-cpp",
            "ros-sensor-msgs",
            "ros-std-msgs",
            "ros-std-srvs",
            "ros-trajectory-msgs",
            "ros-geometry-msgs",
            "ros-diagnostic-msgs",
            "ros-builtin-interfaces",
        ],
        "bench": ["panda-gym>=3.0.7"],
        # Ray spreads record/eval/expert/layouts/distill episodes over worker processes and machines.
        "rollouts": ["ray==2.60.0"],
        # GPU inference. onnxruntime-gpu installs the same `onnxruntime` module as install_requires'
        # onnxruntime, so the two must never be in one environment (installing one over the other
        # leaves a module that imports but has no working build), and pip cannot swap them through an
        # extra: `pip install -e .[gpu]` alone installs both. Swap with scripts/gpu_check.sh, which
        # uninstalls onnxruntime and then installs exactly these requirements; by hand:
        #   pip uninstall -y onnxruntime onnxruntime-gpu && pip install "onnxruntime-gpu[cuda,cudnn]==1.31.1" \
        #     "nvidia-cublas~=13.0"
        # (and back: pip uninstall -y onnxruntime-gpu && pip install onnxruntime). 1.31.1 is the newest
        # onnxruntime-gpu on PyPI; its CUDA provider needs CUDA 13 + cuDNN 9, which its cuda/cudnn
        # extras bring from PyPI except cuBLAS, hence nvidia-cublas.
        "gpu": ["onnxruntime-gpu[cuda,cudnn]==1.31.1", "nvidia-cublas~=13.0"],
        # TensorRT for onnxruntime-gpu 1.31.1's TensorRT provider (it links libnvinfer.so.10 and
        # libnvonnxparser.so.10, built for CUDA 13); several GB, so apart from `gpu`.
        "tensorrt": ["tensorrt-cu13-libs>=10.13,<11"],
        "dev": ["pytest>=8", "pytest-timeout>=2.3", "hypothesis>=6.100", "ruff>=0.5", "import-linter==2.17"],
    },
    entry_points={
        "console_scripts": [
            "jafm-robot = jafm_robot.cli.main:main",
            *[f"{n} = jafm_robot.ros.{n}:main" for n in NODES],
        ],
        "gymnasium.envs": ["jafm_robot = jafm_robot.envs.registration:register_envs"],
    },
    zip_safe=False,
)
