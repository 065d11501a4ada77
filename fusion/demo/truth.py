"""The demo's truth, written into its session.

truth.tsv: every served frame's true marker poses, written as the frames are published.
Columns: ``index`` (the server's frame number), ``t_scene`` (scene time, s), ``t`` (host
monotonic time of publication, s), ``marker``, the centre ``x_m y_m z_m`` and Rodrigues
rotation ``rx ry rz`` in the camera frame, the centre's image position ``u_px v_px`` and
``distance_m``; one row per marker per frame.

fixations_truth.tsv (`FIXATION_TRUTH`, with its JSON sidecar): every fixation the scripted
eye made, on the host clock, with the marker and where on it the eye really pointed.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from gazefusion.fusion.demo.scene import DemoScene
from gazefusion.fusion.session import Column, Table
from gazefusion.fusion.tables import TableWriter

TRUTH_COLUMNS = ("index", "t_scene", "t", "marker", "x_m", "y_m", "z_m", "rx", "ry", "rz", "u_px", "v_px", "distance_m")


class TruthLog:
    """An ``on_publish`` hook for :class:`~gazefusion.fusion.demo.server.MjpegServer` writing truth.tsv.

    Parameters
    ----------
    scene : DemoScene
        The scene served.
    path : pathlib.Path
        The table to create.
    flush_every_s : float
        Flush at most this often, s. (default: 0.5)
    """

    def __init__(self, scene: DemoScene, path: Path, flush_every_s: float = 0.5) -> None:
        self.scene = scene
        self.table: TableWriter | None = TableWriter(path, TRUTH_COLUMNS, flush_every_s=flush_every_s)
        self._lock = threading.Lock()

    def __call__(self, index: int, t_scene: float, t_host: float) -> None:
        """Write the rows of frame `index`."""
        truth = self.scene.truth(t_scene)
        with self._lock:
            if self.table is None:
                return
            for marker in truth.values():
                self.table.write(
                    [
                        index,
                        round(t_scene, 6),
                        round(t_host, 6),
                        marker.marker_id,
                        *np.round(marker.position_m, 6),
                        *np.round(marker.rotation, 6),
                        *np.round(marker.centre_px, 3),
                        round(marker.distance_m, 6),
                    ]
                )

    def close(self) -> None:
        """Close the table; later frames are not written. Idempotent."""
        with self._lock:
            if self.table is not None:
                self.table.close()
                self.table = None


FIXATION_TRUTH = Table(
    "fixations_truth.tsv",
    tuple,
    "One fixation the demo's scripted eye made (a blink splits one in two), on the host clock",
    (
        Column("onset", "Start of the fixation, host monotonic time", "s"),
        Column("offset", "End of the fixation, host monotonic time", "s"),
        Column("duration", "offset minus onset", "s"),
        Column("marker", "The marker looked at (empty: a look away at the wall)"),
        Column("u", "Mean true position on the marker picture, 0-1 from its left edge (the gaze without noise)"),
        Column("v", "Mean true position on the marker picture, 0-1 from its top edge"),
        Column("x_mm", "u times the marker's printed width", "mm"),
        Column("y_mm", "v times the marker's printed height", "mm"),
    ),
    None,
    False,
)


def write_fixation_truth(
    directory: Path, scene: DemoScene, visits: list[tuple[float, float, str | None, float, float]], offset_s: float
) -> Path:
    """Write fixations_truth.tsv (and its sidecar) into the session.

    Parameters
    ----------
    directory : pathlib.Path
        The session folder.
    scene : DemoScene
        The scene (the markers' printed sizes).
    visits : list of (onset, offset, marker or None, u, v)
        The scripted eye's fixations, script time (:meth:`DemoGaze.true_visits`).
    offset_s : float
        Host time of script time 0, s.
    """
    widths = {spec.id: spec.width_m for spec in scene.markers}
    FIXATION_TRUTH.write_sidecar(directory)
    with TableWriter(directory / FIXATION_TRUTH.file, FIXATION_TRUTH.names) as table:
        for onset, offset, label, u, v in visits:
            width_m = widths.get(label or "", float("nan"))
            height_m = width_m * scene.textures[label].shape[0] / scene.textures[label].shape[1] if label else width_m
            table.write(
                [
                    onset + offset_s,
                    offset + offset_s,
                    offset - onset,
                    label or "",
                    u,
                    v,
                    u * width_m * 1000,
                    v * height_m * 1000,
                ]
            )
    return directory / FIXATION_TRUTH.file
