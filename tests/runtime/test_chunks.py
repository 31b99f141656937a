"""ActionChunk and ChunkBlender: points hit on time, no jump at chunk boundaries, stale chunks dropped."""

from __future__ import annotations

import numpy as np
import pytest

from jafm_robot.runtime.chunks import ActionChunk, ChunkBlender, HermiteTrajectory

HOME = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785, 0.08])
JOINTS = np.r_[np.ones(7), 0.0]


def _policy(rng: np.random.Generator, stamp: float, noise: float = 0.02, k: int = 10) -> np.ndarray:
    """A plausible policy: a smooth path sampled at the chunk's times plus a per-chunk error."""
    ts = stamp + 0.1 * np.arange(1, k + 1)
    return HOME + 0.4 * np.sin(ts)[:, None] * JOINTS + rng.normal(0, noise, (1, 8)) * JOINTS


def _run(blender: ChunkBlender, seconds: float = 3.0, dt: float = 0.001, latency: float = 0.03, seed: int = 0):
    """Drive a blender like the control loop does: chunks at 10 Hz, sampled every ``dt``."""
    rng = np.random.default_rng(seed)
    blender.reset(HOME)
    q, v = HOME.copy(), np.zeros(8)
    pos, vel = [], []
    for k in range(int(seconds / dt)):
        t = k * dt
        if k % int(0.1 / dt) == int(latency / dt):
            stamp = t - latency
            blender.add(ActionChunk(stamp, 0.1, _policy(rng, stamp)), t - dt, q, v)
        q, v = blender.sample(t)
        pos.append(q)
        vel.append(v)
    return np.array(pos), np.array(vel)


def test_interpolation_hits_every_action_point_on_time():
    rng = np.random.default_rng(1)
    pts = HOME + rng.normal(0, 0.1, (10, 8))
    chunk = ActionChunk(stamp=2.0, dt=0.1, points=pts)
    np.testing.assert_allclose(chunk.times, 2.0 + 0.1 * np.arange(1, 11))
    b = ChunkBlender()
    b.reset(HOME)
    assert b.add(chunk, 2.0, HOME, np.zeros(8))
    for i, t in enumerate(chunk.times):
        q, _ = b.sample(float(t))
        np.testing.assert_allclose(q, pts[i], atol=1e-12)
    q, v = b.sample(chunk.end_time + 1.0)  # after the last point: hold it, at rest
    np.testing.assert_allclose(q, pts[-1])
    assert np.all(v == 0)


def test_lead_zero_puts_the_first_point_at_the_stamp():
    c = ActionChunk(stamp=1.0, dt=0.05, points=np.zeros((4, 8)), lead=0)
    np.testing.assert_allclose(c.times, [1.0, 1.05, 1.1, 1.15])
    assert c.end_time == pytest.approx(1.15)


def test_hermite_velocity_is_the_derivative_of_position():
    rng = np.random.default_rng(2)
    t = np.array([0.0, 0.07, 0.17, 0.27, 0.37])
    traj = HermiteTrajectory(t, rng.normal(0, 1, (5, 8)), v0=rng.normal(0, 1, 8))
    h = 1e-6
    for tt in np.linspace(0.001, 0.369, 50):
        (p1, _), (p0, _) = traj(tt + h), traj(tt - h)
        np.testing.assert_allclose(traj(tt)[1], (p1 - p0) / (2 * h), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(traj(0.0)[1], traj.m[0])  # starts with the given velocity


def test_no_jump_at_chunk_boundaries():
    """Chunks that disagree by ~2 cm: the blended reference stays smooth, a plain switch would not."""
    dt = 0.001
    pos, vel = _run(ChunkBlender(blend_time=0.1), dt=dt)
    fd_vel = np.diff(pos, axis=0) / dt
    fd_acc = np.diff(fd_vel, axis=0) / dt
    assert np.abs(fd_vel).max() < 3.0  # rad/s: the path's own speed, no spike
    assert np.abs(fd_acc).max() < 150.0  # rad/s^2 (a 2 cm jump in one tick would be ~20000)
    assert np.abs(np.diff(vel, axis=0)).max() / dt < 150.0  # the reported velocity is continuous too
    np.testing.assert_allclose(fd_vel, vel[1:], atol=0.1)  # and consistent with the positions

    # the same chunks swapped in without an anchor (restarting at the new chunk's start) do jump
    rng = np.random.default_rng(0)
    pts = _policy(rng, 0.0)
    b = ChunkBlender(blend_time=0.0)
    b.reset(HOME)
    b.add(ActionChunk(0.0, 0.1, pts), 0.0, pts[0] + 0.02, np.zeros(8))
    jump = np.abs(b.sample(0.0)[0] - pts[0]).max()
    assert jump > 0.01  # sanity: the disagreement above is real


def test_crossfade_starts_from_the_old_plan_and_ends_on_the_new():
    b = ChunkBlender(blend_time=0.1)
    b.reset(HOME)
    old = ActionChunk(0.0, 0.1, np.tile(HOME + 0.2 * JOINTS, (10, 1)))
    new = ActionChunk(0.05, 0.1, np.tile(HOME - 0.2 * JOINTS, (10, 1)))
    b.add(old, 0.0, HOME, np.zeros(8))
    q_old, v_old = b.sample(0.3)
    assert b.add(new, 0.3, q_old, v_old)
    q, v = b.sample(0.3)
    np.testing.assert_allclose(q, q_old, atol=1e-12)  # continuous at the switch
    np.testing.assert_allclose(v, v_old, atol=1e-12)
    np.testing.assert_allclose(b.sample(new.end_time + 0.01)[0], new.points[-1])  # then the new plan


def test_old_expired_and_invalid_chunks_are_dropped():
    b = ChunkBlender()
    b.reset(HOME)
    pts = np.tile(HOME, (10, 1))
    assert b.add(ActionChunk(1.0, 0.1, pts), 1.0, HOME, np.zeros(8))
    assert not b.add(ActionChunk(0.9, 0.1, pts), 1.01, HOME, np.zeros(8))  # older observation
    assert not b.add(ActionChunk(1.0, 0.1, pts), 1.01, HOME, np.zeros(8))  # the same one again
    assert not b.add(ActionChunk(1.5, 0.1, pts), 3.0, HOME, np.zeros(8))  # every point already due
    bad = pts.copy()
    bad[3, 2] = np.nan
    assert not b.add(ActionChunk(2.0, 0.1, bad), 2.0, HOME, np.zeros(8))
    s = b.stats()
    assert s == {
        "chunks_accepted": 1,
        "chunks_dropped_old": 2,
        "chunks_dropped_expired": 1,
        "chunks_rejected_invalid": 1,
    }


def test_points_already_due_are_skipped_not_jumped_to():
    b = ChunkBlender()
    b.reset(HOME)
    pts = HOME + np.arange(10)[:, None] * 0.05 * JOINTS  # point i is 0.05*i rad ahead on every joint
    chunk = ActionChunk(0.0, 0.1, pts)  # due at 0.1, 0.2, ...
    assert b.add(chunk, 0.33, HOME, np.zeros(8))  # taken in late: 0.1..0.3 are gone, 0.4 is 70 ms ahead
    q, _ = b.sample(0.33)
    np.testing.assert_allclose(q, HOME)  # no jump to the missed points
    np.testing.assert_allclose(b.sample(0.4)[0], pts[3], atol=1e-12)


def test_chunk_age_reports_the_observation_age():
    b = ChunkBlender()
    b.reset(HOME)
    assert np.isnan(b.chunk_age(5.0)) and not b.active
    b.add(ActionChunk(4.9, 0.1, np.tile(HOME, (10, 1))), 4.95, HOME, np.zeros(8))
    assert b.active and b.chunk_age(5.0) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stamp": 0.0, "dt": 0.1, "points": np.zeros((10, 7))}, "points must be"),
        ({"stamp": 0.0, "dt": 0.1, "points": np.zeros((0, 8))}, "points must be"),
        ({"stamp": 0.0, "dt": 0.0, "points": np.zeros((10, 8))}, "dt must be"),
        ({"stamp": np.nan, "dt": 0.1, "points": np.zeros((10, 8))}, "stamp must be"),
    ],
)
def test_malformed_chunk_is_a_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ActionChunk(**kwargs)


def test_sample_before_reset_is_none():
    assert ChunkBlender().sample(0.0) is None
    with pytest.raises(ValueError):
        ChunkBlender(blend_time=-1)


def test_one_replanning_rhythm_for_every_host():
    """Half a chunk per inference unless told, and the rate the runtime and policy_node pace at
    follows from it: 10 points 0.1 s apart -> every 5 points -> 2 Hz."""
    from jafm_robot.runtime.chunks import default_replan_every, replan_rate_hz

    assert default_replan_every(10) == 5 and default_replan_every(1) == 1
    assert replan_rate_hz(0.1, 10) == pytest.approx(2.0)
    assert replan_rate_hz(0.1, 10, replan_every=1) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="replan_every"):
        replan_rate_hz(0.1, 10, replan_every=-1)


def _const(stamp: float, offset: float, k: int = 10) -> ActionChunk:
    return ActionChunk(stamp, 0.1, np.tile(HOME + offset * JOINTS, (k, 1)))


@pytest.mark.parametrize("weight", [0.5, 0.8, 1.0])
def test_points_inside_the_plan_in_force_are_averaged_with_it(weight):
    """Old plan +0.2 rad, new plan -0.2 rad, re-planned half a chunk later: where both speak for the
    same moment the reference is weight*new + (1-weight)*old; beyond the old plan it is the new one."""
    b = ChunkBlender(blend_time=0.0, overlap_weight=weight)
    b.reset(HOME)
    assert b.add(_const(0.0, 0.2), 0.0, HOME, np.zeros(8))
    new = _const(0.5, -0.2)
    q_now, v_now = b.sample(0.5)
    assert b.add(new, 0.5, q_now, v_now)
    expected = HOME + (weight * -0.2 + (1 - weight) * 0.2) * JOINTS
    for t in (0.6, 0.8, 1.0):  # due inside the old plan (0.1 .. 1.0)
        np.testing.assert_allclose(b.sample(t)[0], expected, atol=1e-9)
    for t in (1.1, 1.5):  # beyond it: the new chunk as predicted
        np.testing.assert_allclose(b.sample(t)[0], new.points[0], atol=1e-9)


def test_overlap_is_read_off_the_old_plan_between_its_points():
    """On the control loop's clock stamps are not whole action periods apart: the old plan's value at
    a new point's time is interpolated between the old points around it."""
    b = ChunkBlender(blend_time=0.0)
    b.reset(HOME)
    ramp = HOME + np.arange(1, 11)[:, None] * 0.01 * JOINTS  # joint angle = 0.1 * t on the old plan
    assert b.add(ActionChunk(0.0, 0.1, ramp), 0.0, HOME, np.zeros(8))
    new = ActionChunk(0.53, 0.1, np.tile(HOME, (10, 1)))
    assert b.add(new, 0.53, *b.sample(0.53))
    np.testing.assert_allclose(b.sample(0.63)[0], HOME + 0.5 * 0.063 * JOINTS, atol=1e-9)
    np.testing.assert_allclose(b.sample(0.93)[0], HOME + 0.5 * 0.093 * JOINTS, atol=1e-9)
    np.testing.assert_allclose(b.sample(1.03)[0], HOME, atol=1e-9)  # past the old plan's last point


def test_faster_replanning_weighs_older_plans_geometrically():
    """The plan in force is itself an average, so three overlapping chunks weigh 1/2, 1/4, 1/4."""
    b = ChunkBlender(blend_time=0.0)
    b.reset(HOME)
    for stamp, off in ((0.0, 0.4), (0.2, 0.8), (0.4, -0.4)):
        assert b.add(_const(stamp, off), stamp, *b.sample(stamp))
    np.testing.assert_allclose(b.sample(0.8)[0], HOME + (0.5 * -0.4 + 0.25 * 0.8 + 0.25 * 0.4) * JOINTS, atol=1e-9)


def test_a_reset_forgets_the_plan_it_would_average_with():
    b = ChunkBlender(blend_time=0.0)
    b.reset(HOME)
    b.add(_const(0.0, 0.2), 0.0, HOME, np.zeros(8))
    b.reset(HOME)  # e-stop, hold or a new episode
    b.add(_const(0.5, -0.2), 0.5, HOME, np.zeros(8))
    np.testing.assert_allclose(b.sample(0.7)[0], HOME - 0.2 * JOINTS, atol=1e-9)

# an overlap weight outside (0, 1] is refused where every host's parameters are validated once:
# tests/runtime/test_assembly.py
