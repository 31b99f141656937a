"""The one runtime assembly (runtime.assembly): parameters validated once, parts wired as every host wires them."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from jafm_robot.robots.config import load_robot_config
from jafm_robot.runtime.assembly import RuntimeParams, build_blender, build_control_loop, watchdog_timeout
from jafm_robot.runtime.chunks import DEFAULT_OVERLAP_WEIGHT, ActionChunk

CFG = load_robot_config("panda")
HOME = CFG.home8.astype(np.float64)


def test_the_loop_filter_and_blender_share_the_parameters():
    p = RuntimeParams(rate_hz=250, stale_after_s=1.5, overlap_weight=1, blend_time=0.05)
    assert (p.rate_hz, p.overlap_weight) == (250.0, 1.0) and isinstance(p.rate_hz, float)  # YAML ints become floats
    sent: list[np.ndarray] = []
    loop = build_control_loop(CFG, p, send_command=sent.append, initial_state=HOME)
    assert loop.rate_hz == 250.0 and loop.safety.dt == pytest.approx(1 / 250)
    assert loop.safety.stale_after == 1.5
    assert loop.blender.overlap_weight == 1.0 and loop.blender.blend_time == 0.05
    # wired: a chunk handed to the loop comes out of send_command through blender and filter
    loop.reset(0.0)
    loop.submit_chunk(ActionChunk(0.0, 0.1, np.tile(HOME, (10, 1))))
    for k in range(1, 30):
        loop.step(k / 250)
    assert len(sent) == 29 and loop.blender.n_accepted == 1
    np.testing.assert_allclose(sent[-1], HOME, atol=1e-9)


def test_defaults_and_a_fresh_blender_per_call():
    p = RuntimeParams()
    assert p.overlap_weight == DEFAULT_OVERLAP_WEIGHT
    a, b = build_blender(p), build_blender(p)
    assert a is not b and a.overlap_weight == b.overlap_weight == DEFAULT_OVERLAP_WEIGHT
    assert watchdog_timeout(2.0) == pytest.approx(1.1)  # run's rule: one missed inference + 0.1 s


@pytest.mark.parametrize("weight", [0.0, -0.5, 1.5, float("nan"), "half"])
def test_overlap_weight_outside_zero_one_is_refused(weight):
    with pytest.raises(ValueError, match="overlap_weight must be in"):
        RuntimeParams(overlap_weight=weight)


@pytest.mark.parametrize("kw, match", [({"rate_hz": 0}, "rate_hz"), ({"rate_hz": 5000.0}, "rate_hz"),
                                       ({"stale_after_s": 0.0}, "stale_after_s"),
                                       ({"blend_time": -0.1}, "blend_time"), ({"rate_hz": float("inf")}, "rate_hz")])
def test_other_bad_parameters_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        RuntimeParams(**kw)


def test_the_cli_and_ros_parameters_refuse_through_the_same_check(capsys):
    from jafm_robot.cli.common import add_overlap_weight_argument
    from jafm_robot.ros.params import ControllerNodeParams, ParamError, from_dict

    parser = argparse.ArgumentParser()
    add_overlap_weight_argument(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--overlap-weight", "1.5"])
    assert "overlap_weight must be in (0, 1]" in capsys.readouterr().err
    with pytest.raises(ParamError, match=r"overlap_weight must be in \(0, 1\]"):
        from_dict(ControllerNodeParams, {"overlap_weight": 1.5})
    p = from_dict(ControllerNodeParams, {"rate_hz": 250.0, "chunk_timeout_s": 1.5, "overlap_weight": 0.7}).runtime()
    assert (p.rate_hz, p.stale_after_s, p.overlap_weight) == (250.0, 1.5, 0.7)
