"""truth.tsv: every served frame's true marker poses, written as the frames are published.

Columns: ``index`` (the server's frame number), ``t_scene`` (scene time, s), ``t`` (host
monotonic time of publication, s), ``marker``, the centre ``x_m y_m z_m`` and Rodrigues
rotation ``rx ry rz`` in the camera frame, the centre's image position ``u_px v_px`` and
``distance_m``; one row per marker per frame.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from gazefusion.fusion.demo.scene import DemoScene
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
