"""Camera intrinsics from chessboard views: detection, sized sub-pixel refinement, calibration
with rejection of bad views, and the choice of views from a live source.

Everything here is pure (images and corner arrays in, results out) except :class:`LiveCapture`,
which reads a camera source and may show a window.

Measured on rendered boards (``bench/bench_calibration.py``): a refinement window sized to the
squares as imaged (half-window 0.4 of the smallest imaged square side) beats a fixed 11x11
window, which reaches into neighbouring squares when the board is small or tilted.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from gazefusion.calibration.intrinsics import CameraIntrinsics
from gazefusion.fusion.errors import CalibrationError, ConfigError, DisplayError
from gazefusion.fusion.images import to_grey
from gazefusion.fusion.registry import Registry
from gazefusion.fusion.window import close_window, fit_window, open_window

log = logging.getLogger(__name__)

_SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 0.001)


class BoardView(NamedTuple):
    """One usable chessboard view.

    Attributes
    ----------
    name : str
        Where it came from (a file name, or ``live-NN``).
    image_size : tuple[int, int]
        (width, height) px.
    corners : numpy.ndarray
        (cols*rows, 2) float32 refined inner corners, px, in OpenCV's board order.
    half_window_px : int
        Half-size of the sub-pixel refinement window used, px.
    """

    name: str
    image_size: tuple[int, int]
    corners: np.ndarray
    half_window_px: int


class CalibrationResult(NamedTuple):
    """What :func:`calibrate_views` found.

    Attributes
    ----------
    intrinsics : CameraIntrinsics
        The camera, with the overall RMS reprojection error, px.
    view_errors_px : list[tuple[str, float]]
        (view name, RMS reprojection error px) of the views used, in input order.
    rejected : list[tuple[str, float]]
        (view name, RMS px at the time of rejection) of views rejected as outliers.
    """

    intrinsics: CameraIntrinsics
    view_errors_px: list[tuple[str, float]]
    rejected: list[tuple[str, float]]


def parse_board(text: str) -> tuple[int, int]:
    """Inner corners "COLSxROWS" (e.g. "9x6") as (cols, rows).

    Raises
    ------
    ConfigError
        Not two integers joined by "x", or fewer than 2 corners along a side.
    """
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        cols, rows = (int(part) for part in parts)
    except ValueError:
        raise ConfigError(f"--board {text!r}: expected inner corners as COLSxROWS, e.g. 9x6") from None
    if cols < 2 or rows < 2:
        raise ConfigError(f"--board {text!r}: a chessboard needs at least 2x2 inner corners (e.g. 9x6)")
    return cols, rows


def board_object_points(board: tuple[int, int], square_mm: float) -> np.ndarray:
    """The inner corners on the board, (cols*rows, 3) float32 mm, row by row, z = 0.

    Parameters
    ----------
    board : tuple[int, int]
        Inner corners (cols, rows).
    square_mm : float
        Side of a square, mm.
    """
    cols, rows = board
    grid = np.mgrid[0:cols, 0:rows].T.reshape(-1, 2) * float(square_mm)
    return np.hstack([grid, np.zeros((len(grid), 1))]).astype(np.float32)


def smallest_square_px(corners: np.ndarray, board: tuple[int, int]) -> float:
    """The shortest side between neighbouring corners as imaged, px.

    Parameters
    ----------
    corners : numpy.ndarray
        (cols*rows, 2) corners in board order.
    board : tuple[int, int]
        Inner corners (cols, rows).
    """
    cols, rows = board
    grid = np.asarray(corners, dtype=np.float64).reshape(rows, cols, 2)
    along_rows = np.linalg.norm(np.diff(grid, axis=1), axis=2).min()
    along_cols = np.linalg.norm(np.diff(grid, axis=0), axis=2).min()
    return float(min(along_rows, along_cols))


def sized_half_window(
    corners: np.ndarray, board: tuple[int, int], ratio: float = 0.4, min_px: int = 2, max_px: int = 12
) -> int:
    """Half-size of the refinement window for this view: `ratio` of the smallest imaged square.

    Parameters
    ----------
    corners : numpy.ndarray
        (cols*rows, 2) detected corners.
    board : tuple[int, int]
        Inner corners (cols, rows).
    ratio : float
        Fraction of the smallest square side; below 0.5 the window never reaches the
        neighbouring corners. (default: 0.4)
    min_px, max_px : int
        Clamp, px. (default: 2, 12)
    """
    return int(np.clip(round(ratio * smallest_square_px(corners, board)), min_px, max_px))


DETECTORS: Registry[Callable[[np.ndarray, tuple[int, int]], np.ndarray | None]] = Registry("chessboard detector")
"""Chessboard detectors by name: "sb" (findChessboardCornersSB), "classic" (findChessboardCorners,
adaptive threshold), "auto" (sb, then classic)."""


@DETECTORS.register("sb")
def _detect_sb(gray: np.ndarray, board: tuple[int, int]) -> np.ndarray | None:
    found, corners = cv2.findChessboardCornersSB(gray, board, flags=cv2.CALIB_CB_NORMALIZE_IMAGE)
    return corners if found else None


@DETECTORS.register("classic")
def _detect_classic(gray: np.ndarray, board: tuple[int, int]) -> np.ndarray | None:
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
    found, corners = cv2.findChessboardCorners(gray, board, flags=flags)
    return corners if found else None


@DETECTORS.register("auto")
def _detect_auto(gray: np.ndarray, board: tuple[int, int]) -> np.ndarray | None:
    corners = _detect_sb(gray, board)
    return corners if corners is not None else _detect_classic(gray, board)


def detect_board(gray: np.ndarray, board: tuple[int, int], method: str = "auto") -> np.ndarray | None:
    """The board's inner corners (cols*rows, 2) float32 px, unrefined, or None when not found.

    Parameters
    ----------
    gray : numpy.ndarray
        8-bit grey image.
    board : tuple[int, int]
        Inner corners (cols, rows).
    method : str
        A key of :data:`DETECTORS`. (default: "auto")
    """
    corners = DETECTORS[method](gray, board)
    if corners is None:
        return None
    # OpenCV 5 returns (N, 2); older versions (N, 1, 2).
    return np.asarray(corners, dtype=np.float32).reshape(-1, 2)


def refine_corners(gray: np.ndarray, corners: np.ndarray, half_window_px: int) -> np.ndarray:
    """Sub-pixel corners (N, 2) float32 with a (2h+1)x(2h+1) window.

    Parameters
    ----------
    gray : numpy.ndarray
        8-bit grey image.
    corners : numpy.ndarray
        (N, 2) initial corners.
    half_window_px : int
        Half-size h of the window, px.
    """
    initial = np.ascontiguousarray(corners, dtype=np.float32).reshape(-1, 1, 2).copy()
    window = (int(half_window_px), int(half_window_px))
    return cv2.cornerSubPix(gray, initial, window, (-1, -1), _SUBPIX_CRITERIA).reshape(-1, 2)


def find_view(
    image: np.ndarray, board: tuple[int, int], name: str = "", method: str = "auto", half_window_px: int | None = None
) -> BoardView | None:
    """Detect and refine the board in one image; None when it is not found whole.

    Parameters
    ----------
    image : numpy.ndarray
        Grey or BGR 8-bit image.
    board : tuple[int, int]
        Inner corners (cols, rows).
    name : str
        Name carried into the result. (default: "")
    method : str
        Detector, a key of :data:`DETECTORS`. (default: "auto")
    half_window_px : int or None
        Fixed refinement half-window, px; None sizes it to the squares as imaged. (default: None)
    """
    gray = to_grey(image)
    corners = None if gray is None else detect_board(gray, board, method)
    if gray is None or corners is None:
        return None
    half = sized_half_window(corners, board) if half_window_px is None else int(half_window_px)
    refined = refine_corners(gray, corners, half)
    height, width = gray.shape[:2]
    return BoardView(name, (width, height), refined, half)


def read_views(
    paths: Sequence[str | Path], board: tuple[int, int], method: str = "auto", half_window_px: int | None = None
) -> tuple[list[BoardView], list[tuple[str, str]]]:
    """Board views from image files, all of one size.

    Images that cannot be read, have no whole board, or are of another size than the most
    common one are skipped, each with the reason.

    Parameters
    ----------
    paths : sequence of str or pathlib.Path
        Image files.
    board : tuple[int, int]
        Inner corners (cols, rows).
    method : str
        Detector. (default: "auto")
    half_window_px : int or None
        Fixed refinement half-window; None sizes it per view. (default: None)

    Returns
    -------
    views : list[BoardView]
        Usable views, in input order.
    skipped : list[tuple[str, str]]
        (file, reason) of every image not used.
    """
    # One pass, keeping only corners (a folder of large images never sits in memory at once).
    found: list[tuple[str, tuple[int, int], BoardView | None]] = []
    skipped: list[tuple[str, str]] = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None or image.size == 0:
            skipped.append((str(path), "not a readable image"))
            continue
        size = (image.shape[1], image.shape[0])
        found.append((str(path), size, find_view(image, board, str(path), method, half_window_px)))
    sizes: dict[tuple[int, int], int] = {}
    for _, size, _ in found:
        sizes[size] = sizes.get(size, 0) + 1
    ranked = sorted(sizes.items(), key=lambda item: (-item[1], -item[0][0] * item[0][1]))
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        listing = ", ".join(f"{w}x{h} ({n} images)" for (w, h), n in ranked)
        raise CalibrationError(f"the images are of different sizes, {listing}: give the views of one camera resolution")
    keep = ranked[0][0] if ranked else None
    views: list[BoardView] = []
    for name, size, view in found:
        if keep is not None and size != keep:
            skipped.append((name, f"{size[0]}x{size[1]}, not {keep[0]}x{keep[1]} like the others"))
        elif view is None:
            skipped.append((name, f"no whole {board[0]}x{board[1]} chessboard found"))
        else:
            views.append(view)
    return views, skipped


def _calibrate_once(
    views: Sequence[BoardView], object_points: np.ndarray, image_size: tuple[int, int], flags: int
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    image_points = [view.corners.reshape(-1, 1, 2).astype(np.float32) for view in views]
    objects = [object_points] * len(views)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-9)
    try:
        rms, matrix, dist, _, _, _, _, per_view = cv2.calibrateCameraExtended(  # type: ignore[call-overload]
            objects, image_points, image_size, None, None, flags=flags, criteria=criteria
        )
    except cv2.error as exc:
        raise CalibrationError(
            f"calibration failed ({exc.err.strip() or 'OpenCV error'}): take more, varied views of the board"
        ) from None
    return float(rms), matrix, dist.ravel(), np.asarray(per_view, dtype=np.float64).ravel()


def calibrate_views(
    views: Sequence[BoardView],
    board: tuple[int, int],
    square_mm: float,
    min_views: int = 5,
    max_view_rms_px: float = 0.5,
    outlier_factor: float = 3.0,
    flags: int = 0,
) -> CalibrationResult:
    """calibrateCamera on the views, rejecting outlier views one at a time (worst first).

    A view is an outlier when its RMS reprojection error exceeds
    ``max(outlier_factor * median, max_view_rms_px)``; after each rejection the camera is
    calibrated again without it.

    Parameters
    ----------
    views : sequence of BoardView
        Views of one image size.
    board : tuple[int, int]
        Inner corners (cols, rows).
    square_mm : float
        Side of a square, mm (sets the units of the poses only; intrinsics do not depend on it).
    min_views : int
        Fewest views to calibrate from, also after rejections. (default: 5)
    max_view_rms_px : float
        Views below this RMS are never rejected, px. (default: 0.5)
    outlier_factor : float
        Multiple of the median view RMS beyond which a view is rejected. (default: 3.0)
    flags : int
        cv2.calibrateCamera flags. (default: 0: k1 k2 p1 p2 k3)

    Raises
    ------
    CalibrationError
        Too few views, mixed sizes, or a calibration that does not converge.
    """
    if square_mm <= 0 or not math.isfinite(square_mm):
        raise ConfigError(f"square size must be a positive number of mm, got {square_mm}")
    if len(views) < min_views:
        raise CalibrationError(
            f"only {len(views)} usable chessboard views, need at least {min_views}: "
            "add views of the whole board at different positions and tilts"
        )
    sizes = {view.image_size for view in views}
    if len(sizes) != 1:
        raise CalibrationError(
            f"views of different image sizes ({', '.join(f'{w}x{h}' for w, h in sorted(sizes))}): calibrate one resolution at a time"
        )
    image_size = sizes.pop()
    object_points = board_object_points(board, square_mm)
    current = list(views)
    rejected: list[tuple[str, float]] = []
    while True:
        rms, matrix, dist, per_view = _calibrate_once(current, object_points, image_size, flags)
        limit = max(outlier_factor * float(np.median(per_view)), max_view_rms_px)
        worst = int(np.argmax(per_view))
        if per_view[worst] <= limit:
            break
        if len(current) - 1 < min_views:
            raise CalibrationError(
                f"view {current[worst].name} has a reprojection error of {per_view[worst]:.2f} px "
                f"(limit {limit:.2f} px) and without it fewer than {min_views} views remain: add better views"
            )
        log.info("rejecting view %s: %.3f px RMS (limit %.3f px)", current[worst].name, per_view[worst], limit)
        rejected.append((current[worst].name, float(per_view[worst])))
        del current[worst]
    if not (np.all(np.isfinite(matrix)) and np.all(np.isfinite(dist)) and matrix[0, 0] > 0 and matrix[1, 1] > 0):
        raise CalibrationError("calibration gave no finite camera: take more, varied views of the board")
    intrinsics = CameraIntrinsics(image_size, matrix, dist, rms)
    errors = [(view.name, float(err)) for view, err in zip(current, per_view)]
    return CalibrationResult(intrinsics, errors, rejected)


def calibration_record(
    result: CalibrationResult,
    board: tuple[int, int],
    square_mm: float,
    skipped: Iterable[tuple[str, str]] = (),
    date: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """The extra keys of the intrinsics YAML: board, per-view errors, image lists, date.

    Parameters
    ----------
    result : CalibrationResult
        The calibration.
    board : tuple[int, int]
        Inner corners (cols, rows).
    square_mm : float
        Square side, mm.
    skipped : iterable of (str, str)
        Images not used and why. (default: ())
    date : str or None
        ISO 8601 time of the calibration; None: now, UTC. (default: None)
    source : str or None
        Live source the views came from, credentials redacted. (default: None)
    """
    if date is None:
        date = datetime.now(UTC).isoformat(timespec="seconds")
    record: dict[str, Any] = {
        "board": {"cols": int(board[0]), "rows": int(board[1]), "square_mm": float(square_mm)},
        "date": date,
        "images": [name for name, _ in result.view_errors_px],
        "view_errors_px": [{"image": name, "rms": round(err, 6)} for name, err in result.view_errors_px],
        "rejected": [{"image": name, "rms": round(err, 6)} for name, err in result.rejected],
        "skipped": [{"image": name, "reason": reason} for name, reason in skipped],
    }
    if source is not None:
        record["source"] = source
    return record


def view_signature(corners: np.ndarray, board: tuple[int, int], image_size: tuple[int, int]) -> np.ndarray:
    """Where and how the board lies in the image: centre, size and tilt, each of order 1.

    (centre x / width, centre y / height, sqrt(board area / image area), and twice the relative
    difference of opposite sides in each direction, which grows with the tilt and keeps its
    direction.)

    Parameters
    ----------
    corners : numpy.ndarray
        (cols*rows, 2) corners in board order.
    board : tuple[int, int]
        Inner corners (cols, rows).
    image_size : tuple[int, int]
        (width, height) px.
    """
    cols, rows = board
    width, height = image_size
    grid = np.asarray(corners, dtype=np.float64).reshape(rows, cols, 2)
    # OpenCV may report a symmetric board in either of two opposite orders: take the one that
    # starts nearer the image's top-left, so a tilt keeps its sign.
    if grid[0, 0].sum() > grid[-1, -1].sum():
        grid = grid[::-1, ::-1]
    quad = np.array([grid[0, 0], grid[0, -1], grid[-1, -1], grid[-1, 0]])
    centre = quad.mean(axis=0)
    diag_a, diag_b = quad[2] - quad[0], quad[3] - quad[1]
    area = 0.5 * abs(diag_a[0] * diag_b[1] - diag_a[1] * diag_b[0])
    top, right = np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[1])
    bottom, left = np.linalg.norm(quad[2] - quad[3]), np.linalg.norm(quad[3] - quad[0])
    tilt_a = (right - left) / (right + left)
    tilt_b = (bottom - top) / (bottom + top)
    return np.array([centre[0] / width, centre[1] / height, math.sqrt(area / (width * height)), 2 * tilt_a, 2 * tilt_b])


class ViewSelector:
    """Chooses live views: the board found, steady, and different enough from those taken.

    Feed it the corners of every frame (None when the board was not found); :meth:`offer`
    says whether to take this frame.

    Parameters
    ----------
    board : tuple[int, int]
        Inner corners (cols, rows).
    image_size : tuple[int, int]
        (width, height) px.
    steady_frames : int
        Consecutive frames with the board over which it must have moved less than
        `steady_px`. (default: 3)
    steady_px : float
        Largest corner movement over those frames, px. (default: 3.0)
    min_difference : float
        Smallest distance of :func:`view_signature` to every view taken. (default: 0.12)
    """

    def __init__(
        self,
        board: tuple[int, int],
        image_size: tuple[int, int],
        steady_frames: int = 3,
        steady_px: float = 3.0,
        min_difference: float = 0.12,
    ) -> None:
        self.board = board
        self.image_size = image_size
        self.steady_frames = max(1, int(steady_frames))
        self.steady_px = float(steady_px)
        self.min_difference = float(min_difference)
        self.taken: list[np.ndarray] = []
        self._recent: deque[np.ndarray] = deque(maxlen=self.steady_frames)

    def offer(self, corners: np.ndarray | None) -> bool:
        """True when this frame's board should be taken as a new view (and records it)."""
        if corners is None:
            self._recent.clear()
            return False
        corners = np.asarray(corners, dtype=np.float64).reshape(-1, 2)
        self._recent.append(corners)
        if len(self._recent) < self.steady_frames:
            return False
        moved = max(float(np.linalg.norm(c - corners, axis=1).max()) for c in self._recent)
        if moved >= self.steady_px:
            return False
        signature = view_signature(corners, self.board, self.image_size)
        if self.taken and min(float(np.linalg.norm(signature - s)) for s in self.taken) < self.min_difference:
            return False
        self.taken.append(signature)
        self._recent.clear()
        return True


class LiveCapture:
    """Takes chessboard views from a camera source as the board is shown to it.

    Parameters
    ----------
    source : object
        A started camera source (``latest(newer_than, timeout_s) -> Frame | None``).
    board : tuple[int, int]
        Inner corners (cols, rows).
    views : int
        Views to take. (default: 15)
    window : bool
        Show an OpenCV window with the detected board and the count. (default: False)
    selector_options : dict or None
        Keyword arguments of :class:`ViewSelector`. (default: None)
    on_view : callable or None
        Called with (BoardView, image) for every view taken. (default: None)
    """

    WINDOW = "gazefusion calibrate camera"

    def __init__(
        self,
        source: Any,
        board: tuple[int, int],
        views: int = 15,
        window: bool = False,
        selector_options: dict[str, Any] | None = None,
        on_view: Callable[[BoardView, np.ndarray], None] | None = None,
    ) -> None:
        self.source = source
        self.board = board
        self.views_wanted = int(views)
        self.window = window
        self.selector_options = selector_options or {}
        self.on_view = on_view
        self.frames_seen = 0
        #: Why the last `run` stopped ("" while running or when all views were taken).
        self.ended = ""
        self._window_size: tuple[int, int] | None = None

    def run(self, timeout_s: float, frame_timeout_s: float = 5.0) -> list[BoardView]:
        """Read frames until enough views are taken, `timeout_s` passes, or the user quits.

        Parameters
        ----------
        timeout_s : float
            Give up after this long, s (the views taken so far are returned).
        frame_timeout_s : float
            A wait this long for a new frame ends the capture. (default: 5.0)
        """
        selector: ViewSelector | None = None
        views: list[BoardView] = []
        self.ended = ""
        last_index = -1
        deadline = time.monotonic() + timeout_s
        try:
            while len(views) < self.views_wanted and time.monotonic() < deadline:
                frame = self.source.latest(
                    newer_than=last_index, timeout_s=min(frame_timeout_s, max(0.05, deadline - time.monotonic()))
                )
                if frame is None:
                    if getattr(self.source, "finished", False):
                        self.ended = "the source ended"
                    elif time.monotonic() < deadline:
                        self.ended = f"no new frame for {frame_timeout_s:g} s"
                    else:
                        self.ended = f"timed out after {timeout_s:g} s"
                    break
                last_index = frame.index
                self.frames_seen += 1
                gray = to_grey(frame.image)
                if gray is None:
                    continue
                size = (gray.shape[1], gray.shape[0])
                if selector is None or selector.image_size != size:
                    selector = ViewSelector(self.board, size, **self.selector_options)
                corners = detect_board(gray, self.board)
                if selector.offer(corners) and corners is not None:
                    half = sized_half_window(corners, self.board)
                    view = BoardView(f"live-{len(views) + 1:02d}", size, refine_corners(gray, corners, half), half)
                    views.append(view)
                    log.info("view %d/%d taken (frame %d)", len(views), self.views_wanted, frame.index)
                    if self.on_view is not None:
                        self.on_view(view, frame.image)
                if self.window and self._show(frame.image, corners, len(views)):
                    self.ended = "stopped by the user"
                    break
            else:
                if len(views) < self.views_wanted:
                    self.ended = f"timed out after {timeout_s:g} s"
        except KeyboardInterrupt:
            # Ctrl-C ends the capture, not the calibration: the views taken are kept.
            self.ended = "interrupted"
        finally:
            if self.window and self._window_size is not None:
                close_window(self.WINDOW)  # gone now, not after the calibration that follows
                self._window_size = None
        return views

    def _show(self, image: np.ndarray, corners: np.ndarray | None, taken: int) -> bool:
        """Draw and show; True when the user asked to stop (q or Esc)."""
        canvas = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if corners is not None:
            cv2.drawChessboardCorners(canvas, self.board, corners.reshape(-1, 1, 2), True)
        cv2.putText(
            canvas,
            f"views {taken}/{self.views_wanted}  (q: stop)",
            (10, 25),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.7,
            (0, 255, 0),
            2,
            cv2.LINE_AA,
        )
        try:
            size = (canvas.shape[1], canvas.shape[0])
            if size != self._window_size:
                open_window(self.WINDOW)
                fit_window(self.WINDOW, size)
                self._window_size = size
            cv2.imshow(self.WINDOW, canvas)
            key = cv2.waitKey(1) & 0xFF
        except cv2.error:
            raise DisplayError("cannot open a window (no display?): use --headless") from None
        return key in (ord("q"), 27)
