"""Typed configuration of the VLA policy, with named sizes from ``tiny`` (tests) to ``large``.

A config travels inside every checkpoint (``to_dict``/``from_dict``) so a checkpoint rebuilds
exactly the network that wrote it, whatever the defaults are by then.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from jafm_robot.contract import DEFAULT_CHUNK_LEN, DEFAULT_IMAGE_SIZE, INSTRUCTION_LEN

#: the encoder's norm layers (``VisionConfig.norm``)
NORMS = ("group", "affine")


@dataclass(frozen=True)
class VisionConfig:
    """Strided conv stack per camera, pooled to a ``token_grid`` x ``token_grid`` map of tokens.

    A fixed small token grid (not one token per pixel patch) keeps the transformer's sequence short,
    which is what makes ~1 ms batch-1 CPU inference possible; the conv features keep where things are.
    """

    channels: tuple[int, ...] = (16, 32, 64)
    token_grid: int = 4
    # The first conv's stride. 4 = a 4x4 "patchify" stem: the full-resolution layer is by far the
    # most expensive one (forward and backward), and a patch stem keeps the fine detail in channels.
    stem_stride: int = 2
    # FiLM (Perez et al. 2018; as in RT-1/BC-Z): the instruction scales and shifts every conv
    # block's channels, so the encoder can light up "the red cylinder" before any pooling throws
    # the other parts away. Late fusion alone (tokens meeting in the transformer) learns grounding
    # far more slowly from a few hundred demonstrations.
    film: bool = False
    # Spatial-softmax keypoints (Levine et al. 2016) per camera: the expected image (x, y) of each
    # of K learned feature maps, one token each. Pooled grid tokens lose where inside a cell a part
    # sits; a grasp needs it to within a centimetre. 0 = off.
    keypoints: int = 0
    # Convs per stage: 1 = a single strided conv; each extra one is a residual 3x3 conv at the
    # stage's resolution. Telling a 6-px cube from a 6-px cylinder of the same colour takes more
    # than one nonlinearity per scale: with depth 1 the named part was never localised.
    depth: int = 1
    # The norm after each conv. "group": GroupNorm (4 groups), which normalises each image by its
    # own statistics and trains robustly from scratch. "affine": a learned per-channel scale and
    # shift with no statistics of the input, which the export folds into the conv before it, so
    # ONNX Runtime runs the conv alone (GroupNorm costs it about a fifth of the student's latency:
    # an InstanceNormalization plus layout reorders around every conv). A trained "group" encoder
    # becomes "affine" by calibration (``train --init CKPT --norm affine``,
    # :mod:`jafm_robot.training.norm_conversion`).
    norm: str = "group"

    @property
    def downsample(self) -> int:
        return self.stem_stride * 2 ** (len(self.channels) - 1)


@dataclass(frozen=True)
class TextConfig:
    """Byte-level instruction encoder: 256-entry byte embedding + a strided 1-D conv.

    Bytes, not a word vocabulary, so English and Japanese (3 UTF-8 bytes per character) need no
    tokenizer and nothing outside the ONNX graph; the kernel spans two characters of Japanese.
    """

    kernel: int = 8
    stride: int = 4


@dataclass(frozen=True)
class VLAConfig:
    name: str = "small"
    d_model: int = 96
    n_heads: int = 4
    n_layers: int = 3
    ff_mult: int = 4
    dropout: float = 0.0
    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    cameras: tuple[str, ...] = ("image", "wrist_image")
    chunk_len: int = DEFAULT_CHUNK_LEN
    image_size: int = DEFAULT_IMAGE_SIZE
    instruction_len: int = INSTRUCTION_LEN
    # Predict actions as (normalised) offsets from the current state: the same absolute targets
    # come out of the graph, but offsets are small and centred, which trains much faster.
    predict_delta: bool = True
    # Training-only auxiliary outputs (jafm_robot.datasets.auxiliary: pick and place points, grasp yaw) read
    # from one extra query token; 0 = none. The exported graph keeps the token, drops the head.
    aux_dim: int = 0

    def validate(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} must be divisible by n_heads {self.n_heads}")
        if not self.cameras or any(c not in ("image", "wrist_image") for c in self.cameras):
            raise ValueError(f"cameras must be a non-empty subset of image, wrist_image; got {self.cameras}")
        if self.chunk_len < 1 or self.n_layers < 1:
            raise ValueError("chunk_len and n_layers must be >= 1")
        if self.vision.norm not in NORMS:
            raise ValueError(f"vision.norm must be one of {', '.join(NORMS)}; got {self.vision.norm!r}")
        ds = self.vision.downsample
        if self.image_size % ds or (self.image_size // ds) % self.vision.token_grid:
            raise ValueError(
                f"image_size {self.image_size} must be divisible by the encoder's downsampling {ds} and leave a "
                f"feature map that pools evenly to {self.vision.token_grid}x{self.vision.token_grid}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VLAConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown VLA config keys {sorted(unknown)}")
        d = dict(d)
        if "vision" in d:
            v = dict(d["vision"])
            v["channels"] = tuple(v.get("channels", VisionConfig.channels))
            d["vision"] = VisionConfig(**v)
        if "text" in d:
            d["text"] = TextConfig(**d["text"])
        if "cameras" in d:
            d["cameras"] = tuple(d["cameras"])
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def with_(self, **kw: Any) -> VLAConfig:
        cfg = replace(self, **kw)
        cfg.validate()
        return cfg


SIZES: dict[str, VLAConfig] = {
    # tests: < 100k parameters, trains in seconds on a CPU
    "tiny": VLAConfig(name="tiny", d_model=32, n_heads=2, n_layers=1, ff_mult=2, vision=VisionConfig((8, 16, 32), 4)),
    # the deployed student: ~1 ms batch-1 ONNX Runtime CPU
    "small": VLAConfig(name="small", d_model=96, n_heads=4, n_layers=3, vision=VisionConfig((16, 32, 64, 64), 4)),
    # the shipped PickPlace policy / distilled student: small + FiLM + keypoints, 16x16 final map
    "student": VLAConfig(name="student", d_model=96, n_heads=4, n_layers=3,
                         vision=VisionConfig((16, 32, 64), 2, film=True, keypoints=16, depth=2), aux_dim=10),
    "base": VLAConfig(name="base", d_model=192, n_heads=6, n_layers=6, vision=VisionConfig((32, 64, 128, 128), 8)),
    "large": VLAConfig(name="large", d_model=384, n_heads=8, n_layers=8, vision=VisionConfig((48, 96, 192, 256), 8)),
    # the multi-task teacher that students are distilled from (jafm_robot.distill.foundation):
    # never in the control loop, so it spends compute on capacity, both cameras and dropout
    "foundation": VLAConfig(name="foundation", d_model=512, n_heads=8, n_layers=10, ff_mult=4, dropout=0.1,
                            vision=VisionConfig((64, 128, 256, 384), token_grid=8),
                            cameras=("image", "wrist_image")),
}


def get_config(name: str, **overrides: Any) -> VLAConfig:
    if name not in SIZES:
        raise ValueError(f"unknown VLA size {name!r}; choose one of {', '.join(SIZES)}")
    return SIZES[name].with_(**overrides) if overrides else SIZES[name]
