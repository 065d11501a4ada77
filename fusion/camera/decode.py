"""JPEG decoding, chosen by the camera config's ``decoder`` key from `DECODERS`.

``simplejpeg`` (the default: libjpeg-turbo without OpenCV's overhead; about 1.2x less CPU
per frame than ``cv2.imdecode`` on the benchmark's camera frames at 640x480 and 1280x720,
twice as fast on noisy pictures; see bench/bench_camera.py),
``fast`` (simplejpeg with the fast integer DCT and fast chroma upsampling: slightly softer,
faster), ``half`` (simplejpeg scaled by 1/2 in the DCT: half width and height, much less work;
intrinsics must be scaled to the frame size) and ``cv2`` (``cv2.imdecode``). All return BGR
uint8 images (H, W, 3).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from gazefusion.fusion.registry import Registry

try:
    import simplejpeg
except ImportError:  # pragma: no cover - simplejpeg is a declared dependency
    simplejpeg = None


class CorruptJpeg(ValueError):
    """The bytes did not decode to an image."""


DECODERS: Registry[Callable[[bytes], np.ndarray]] = Registry("JPEG decoder", key="camera.decoder")
"""JPEG decoders by name."""


@DECODERS.register("simplejpeg")
def decode_simplejpeg(jpeg: bytes) -> np.ndarray:
    """JPEG bytes -> BGR uint8 image (H, W, 3) with simplejpeg; CorruptJpeg if it fails."""
    try:
        image: np.ndarray = simplejpeg.decode_jpeg(jpeg, colorspace="BGR")
        return image
    except (ValueError, RuntimeError) as exc:
        raise CorruptJpeg(str(exc)) from None


@DECODERS.register("fast")
def decode_fast(jpeg: bytes) -> np.ndarray:
    """Like `decode_simplejpeg`, with the fast DCT and fast upsampling."""
    try:
        image: np.ndarray = simplejpeg.decode_jpeg(jpeg, colorspace="BGR", fastdct=True, fastupsample=True)
        return image
    except (ValueError, RuntimeError) as exc:
        raise CorruptJpeg(str(exc)) from None


@DECODERS.register("half")
def decode_half(jpeg: bytes) -> np.ndarray:
    """Like `decode_simplejpeg`, at half width and height (scaled in the DCT, not resized after)."""
    try:
        height, width = simplejpeg.decode_jpeg_header(jpeg)[:2]
        # the smallest DCT scaling that keeps at least half the size in both axes: exactly 1/2
        image: np.ndarray = simplejpeg.decode_jpeg(
            jpeg, colorspace="BGR", min_height=(height + 1) // 2, min_width=(width + 1) // 2
        )
        return image
    except (ValueError, RuntimeError) as exc:
        raise CorruptJpeg(str(exc)) from None


@DECODERS.register("cv2")
def decode_cv2(jpeg: bytes) -> np.ndarray:
    """JPEG bytes -> BGR uint8 image (H, W, 3) with ``cv2.imdecode``; CorruptJpeg if it fails."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise CorruptJpeg("cv2.imdecode could not decode the data")
    return image


default_decoder = decode_simplejpeg if simplejpeg is not None else decode_cv2
"""The decoder of recorded frames and of sources given no other: replay sees the live pixels."""


def decode_jpeg(data: bytes) -> np.ndarray | None:
    """Decode JPEG bytes to BGR with :data:`default_decoder`; None where they do not decode."""
    try:
        return default_decoder(data)
    except CorruptJpeg:
        return None
