"""``train`` on a machine whose memory the decoded frames would outgrow: it decodes them into a
frames cache (files read through the page cache) instead of being OOM-killed mid-decode."""

from __future__ import annotations

import numpy as np

from jafm_robot.training import trainer
from jafm_robot.training.trainer import TrainConfig, available_memory_bytes, frames_need_cache, train


def test_the_decision_and_the_memory_probe():
    assert frames_need_cache(8 << 30, 10 << 30)  # 8 GiB of frames, 10 GiB free: over 70 %
    assert not frames_need_cache(6 << 30, 10 << 30)
    assert not frames_need_cache(1 << 40, None)  # no /proc/meminfo: the user's --frames-cache decides
    avail = available_memory_bytes()
    assert avail is None or avail > 0


def test_train_decodes_into_a_cache_when_memory_is_short(synthetic_dataset, tmp_path, monkeypatch, capsys):
    kw = dict(dataset=str(synthetic_dataset), config="tiny", batch_size=4, log_every=1, chunk_len=4, save_every=100, steps=2)
    monkeypatch.setattr(trainer, "available_memory_bytes", lambda: 1 << 10)  # a machine with 1 KiB to spare
    train(TrainConfig(out=str(tmp_path / "short"), **kw))
    assert "instead of memory" in capsys.readouterr().out
    cached = sorted(p.name for p in (tmp_path / "short/frames_cache").glob("*.npy"))
    assert cached and set(cached) <= {"image.npy", "wrist_image.npy"}
    assert np.load(tmp_path / "short/frames_cache" / cached[0], mmap_mode="r").any()  # real decoded frames

    monkeypatch.setattr(trainer, "available_memory_bytes", lambda: 1 << 40)  # plenty: frames stay in memory
    train(TrainConfig(out=str(tmp_path / "plenty"), **kw))
    assert not (tmp_path / "plenty/frames_cache").exists()
