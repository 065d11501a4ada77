"""The registered JPEG decoders: same picture, BGR, corrupt data refused."""

from __future__ import annotations

import numpy as np
import pytest

from gazefusion.fusion.camera.decode import DECODERS, CorruptJpeg
from gazefusion.fusion.config import CameraConfig, load_config
from gazefusion.fusion.errors import ConfigError

from .conftest import make_jpeg

JPEG = make_jpeg(160, 120, seed=7, quality=95)
REFERENCE = DECODERS["cv2"](JPEG)


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_decoders_agree_with_cv2(name: str) -> None:
    image = DECODERS[name](JPEG)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    factor = 2 if name == "half" else 1
    assert image.shape[:2] == (120 // factor, 160 // factor)
    reference = REFERENCE[::factor, ::factor] if factor == 1 else REFERENCE.reshape(60, 2, 80, 2, 3).mean(axis=(1, 3))
    # same picture, same channel order (a swapped order or another picture differs by tens)
    assert np.abs(image.astype(float) - reference).mean() < 10.0


@pytest.mark.parametrize("name", sorted(DECODERS))
@pytest.mark.parametrize(
    "data",
    [JPEG[:200] + bytes(range(256)) * 4 + b"\xff\xd9", b"\xff\xd8\xff\xd9", JPEG[: len(JPEG) // 3]],
    ids=["garbage-scan", "empty", "truncated"],
)
def test_corrupt_data_raises(name: str, data: bytes) -> None:
    with pytest.raises(CorruptJpeg):
        DECODERS[name](data)


def test_unknown_decoder_is_a_user_error() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown JPEG decoder 'turbo' \(camera.decoder\); known: simplejpeg, fast, half, cv2"
    ):
        DECODERS["turbo"]


def test_config_refuses_an_unknown_decoder() -> None:
    with pytest.raises(ConfigError, match="decoder"):
        load_config(None, {"camera": {"decoder": "turbo"}})
    assert CameraConfig().decoder == "simplejpeg"
