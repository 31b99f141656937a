"""The shared contract helpers: instruction encoding and robot config loading."""

from pathlib import Path

import numpy as np
import pytest

from jafm_robot.contract import INSTRUCTION_LEN, decode_instruction, detect_language, encode_instruction
from jafm_robot.robots import load_robot_config


def test_instruction_roundtrip_en_ja():
    for text in ["pick the red cube and put it in the left bin", "赤い立方体を左の箱に入れて"]:
        enc = encode_instruction(text)
        assert enc.dtype == np.uint8 and enc.shape == (INSTRUCTION_LEN,)
        assert decode_instruction(enc) == text


def test_long_japanese_is_cut_on_a_character_boundary():
    text = "赤" * 100  # 300 bytes
    enc = encode_instruction(text)
    dec = decode_instruction(enc)
    assert "\ufffd" not in dec and set(dec) == {"赤"} and len(dec.encode()) <= INSTRUCTION_LEN


def test_detect_language():
    assert detect_language("put the cube in the bin") == "en"
    assert detect_language("キューブを箱に入れて") == "ja"
    assert detect_language("mets le cube dans la boîte") == "unknown"


def test_encode_rejects_non_string():
    with pytest.raises(TypeError):
        encode_instruction(b"bytes")  # type: ignore[arg-type]


def test_panda_config_limits():
    cfg = load_robot_config("panda")
    assert cfg.dof == 7 and cfg.action_low.shape == (8,)
    assert np.all(cfg.action_low < cfg.action_high)
    assert np.all((cfg.home8 >= cfg.action_low) & (cfg.home8 <= cfg.action_high))


def test_missing_robot_config_is_a_clear_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="robot config not found"):
        load_robot_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text((Path(__file__).parents[1] / "sim/robots/panda.yaml").read_text().replace("home: [0.0,", "home: [9.0,"))
    with pytest.raises(ValueError, match="home pose outside"):
        load_robot_config(bad)
