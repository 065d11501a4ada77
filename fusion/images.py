"""Images: colour to grey, once for every part that works on intensity (markers, chessboards); outlined text."""

from __future__ import annotations

import cv2
import numpy as np


def to_grey(image: np.ndarray | None) -> np.ndarray | None:
    """A uint8 grey view of a BGR, BGRA or grey image; None for an empty one.

    >>> to_grey(np.full((2, 3, 3), (255, 0, 0), np.uint8)).tolist()  # pure blue, BGR
    [[29, 29, 29], [29, 29, 29]]
    """
    if image is None or image.size == 0 or image.ndim not in (2, 3):
        return None
    if image.ndim == 2:
        grey = image
    elif image.shape[2] == 1:
        grey = image[:, :, 0]
    else:
        grey = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    if grey.dtype != np.uint8:
        grey = cv2.normalize(grey, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)  # type: ignore[call-overload]
    return grey


def outlined_text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float = 0.5) -> None:
    """White text with a dark outline, so it reads on any background (drawn in place).

    The outline is the same text shifted by a pixel each way: OpenCV 5 renders a thicker
    stroke as a bolder, wider font, so a thick dark copy would not line up with the letters.
    """
    x, y = origin
    for dx, dy in ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)):
        cv2.putText(image, text, (x + dx, y + dy), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
