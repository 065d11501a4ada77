"""AOI metrics, heatmaps and scanpaths of recorded sessions (``gazefusion metrics``).

Per session, :func:`load_session` reads what the metrics need (fixations.tsv,
fixations_on_markers.tsv, the trial marks in events.jsonl, participant and condition from
session.yaml, the gaze's time span) and :func:`session_metrics_table` computes its rows: a
pure function of those tables, the marker library's picture sizes and the AOIs, so a batch
can call it per session and gather the rows. :func:`write_metrics` does the whole command:
every session is read and checked first (nothing is written when one is refused), then
``aoi_metrics.tsv`` with its sidecar, reach across the sessions, and the pictures are
written into a new folder, which appears whole or not at all.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import pandas as pd

from gazefusion.fusion.analysis.aois import Aoi, load_aoi_file, resolve_aois
from gazefusion.fusion.analysis.metrics import (
    METRIC_COLUMNS,
    METRIC_DOCS,
    Trial,
    add_reach,
    fixation_aoi_hits,
    session_metrics,
    trials_from_events,
)
from gazefusion.fusion.analysis.pictures import heatmap_picture, scanpath_picture
from gazefusion.fusion.errors import FileFormatError, GazefusionError, OutputError
from gazefusion.fusion.markers import MarkerLibrary, draw_fiducial
from gazefusion.fusion.session import Column, SessionReader, Table, relocated_config
from gazefusion.fusion.tables import TableWriter

AOI_METRICS = Table(
    "aoi_metrics.tsv",
    dict,
    "AOI metrics of one session, trial, marker and AOI (definitions: docs/guide/analyse.md, after Holmqvist et al. "
    "2011 and Tobii Pro Lab). A fixation is in an AOI when its mean position on the marker lies in the AOI or "
    "within the margin; it belongs to the trial its onset falls in.",
    tuple(Column(name, *METRIC_DOCS[name]) for name in METRIC_COLUMNS),
    None,
    False,
)
"""aoi_metrics.tsv, written by :func:`write_metrics` (not a session table)."""
FIXATIONS_ON_MARKERS = "fixations_on_markers.tsv"

#: The default margin around AOIs, degrees: about a remote tracker's accuracy.
DEFAULT_MARGIN_DEG = 0.5
#: The default spread of a fixation in a heatmap, degrees (about the fovea's).
DEFAULT_SIGMA_DEG = 1.0


class SessionTables(NamedTuple):
    """What the metrics of one session are computed from.

    Attributes
    ----------
    name : str
        The session (its folder's name).
    directory : pathlib.Path
        Its folder.
    participant, condition : str
        From session.yaml ("" where not given).
    library : pathlib.Path
        Its marker library file.
    fixations : pandas.DataFrame
        fixations.tsv.
    on_markers : pandas.DataFrame
        fixations_on_markers.tsv.
    trials : list[Trial]
        From the trial marks, or the whole session as one trial.
    """

    name: str
    directory: Path
    participant: str
    condition: str
    library: Path
    fixations: pd.DataFrame
    on_markers: pd.DataFrame
    trials: list[Trial]


class MarkerPictures(NamedTuple):
    """A marker library's pictures and AOIs, as the metrics and pictures use them.

    Attributes
    ----------
    path : pathlib.Path
        The library file.
    pictures : dict[str, numpy.ndarray]
        Each marker's picture (BGR).
    aois : dict[str, list[Aoi]]
        Each marker's AOIs, the whole picture first.
    fingerprint : str
        A digest of the markers' ids, widths and pictures: equal libraries, equal digests.
    """

    path: Path
    pictures: dict[str, np.ndarray]
    aois: dict[str, list[Aoi]]
    fingerprint: str

    @property
    def image_sizes(self) -> dict[str, tuple[int, int]]:
        """(width, height) of every picture, by marker id."""
        return {marker: (image.shape[1], image.shape[0]) for marker, image in self.pictures.items()}


def read_tsv(path: Path, required: Sequence[str], what: str) -> pd.DataFrame:
    """A table with one ``pandas.read_csv``; a cut-off last row (a crash) is dropped.

    Raises
    ------
    FileFormatError
        A missing or unreadable table, or one that lacks a required column.
    """
    if not path.is_file():
        raise FileFormatError(f"{what}: {path.name} is missing")
    try:
        table = pd.read_csv(path, sep="\t")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise FileFormatError(f"{what}: {path.name} is not a readable table ({exc})") from None
    missing = [column for column in required if column not in table.columns]
    if missing:
        raise FileFormatError(f"{what}: {path.name} lacks the column(s) {', '.join(missing)}")
    return table.dropna(subset=list(required)).reset_index(drop=True)


def _gaze_span(directory: Path, header: Mapping[str, object], fixations: pd.DataFrame) -> tuple[float, float]:
    """The first and last gaze time of a session (a replay's from the session it replayed)."""
    for folder in (directory, Path(str(header.get("replay_of") or directory))):
        path = folder / "gaze.tsv"
        if path.is_file():
            times = pd.read_csv(path, sep="\t", usecols=["t"])["t"].dropna()
            if len(times):
                return float(times.iloc[0]), float(times.iloc[-1])
    if len(fixations):
        return float(fixations["onset"].min()), float((fixations["onset"] + fixations["duration"]).max())
    return 0.0, 0.0


def _trial_marks(reader: SessionReader) -> Iterator[dict[str, object]]:
    """The session's events; a replay's trial marks are its recorded session's (a replay does not copy them)."""
    replayed = reader.header.get("replay_of")
    if replayed and (Path(str(replayed)) / "events.jsonl").is_file():
        return SessionReader(Path(str(replayed))).events()
    return reader.events()


def load_session(directory: str | Path) -> SessionTables:
    """Read the tables the metrics of a session need.

    Raises
    ------
    FileFormatError
        Not a session, no marker library, a table missing (a session recorded before gaze
        was mapped onto markers: replay it with ``--out``), bad trial marks.
    """
    reader = SessionReader(directory)
    folder = reader.directory
    what = f"session {folder}"
    config = relocated_config(reader.config, folder)
    if config.markers.file is None:
        raise FileFormatError(f"{what} has no marker library (markers.file): there is nothing to measure AOIs on")
    library = Path(config.markers.file)
    if not (folder / FIXATIONS_ON_MARKERS).is_file():
        raise FileFormatError(
            f"{what} has no {FIXATIONS_ON_MARKERS} (recorded before gaze was mapped onto markers): "
            f"make it with gazefusion replay {folder} --out NEW_FOLDER"
        )
    fixations = read_tsv(folder / "fixations.tsv", ("id", "onset", "duration"), what)
    on_markers = read_tsv(
        folder / FIXATIONS_ON_MARKERS, ("fixation_id", "marker", "u", "v", "px_per_deg", "duration"), what
    )
    header = reader.header
    trials = trials_from_events(_trial_marks(reader), _gaze_span(folder, header, fixations), what)
    recorded = config.record
    return SessionTables(
        folder.name,
        folder,
        str(header.get("participant") or recorded.participant or ""),
        str(header.get("condition") or recorded.condition or ""),
        library,
        fixations,
        on_markers,
        trials,
    )


def load_pictures(library: Path, aoi_file: str | Path | None = None) -> MarkerPictures:
    """A marker library's pictures and AOIs (the library's ``aois:``, replaced per marker by `aoi_file`'s).

    A fiducial marker's picture is its printed tags (``draw_fiducial``) at its layout's size.

    Raises
    ------
    FileFormatError
        An unreadable library or picture, an AOI file naming an unknown marker, an AOI outside
        its picture or crossing itself.
    """
    markers = MarkerLibrary.load(library)
    pictures: dict[str, np.ndarray] = {}
    from_library: dict[str, list[Aoi]] = {}
    digest = hashlib.sha256()
    for marker in markers:
        width, height = marker.image_size
        if marker.fiducial is not None:
            image = cv2.cvtColor(draw_fiducial(marker, width / marker.width_m, margin_m=0.0), cv2.COLOR_GRAY2BGR)
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST)
        else:
            read = cv2.imread(marker.source, cv2.IMREAD_COLOR)
            grey = marker.picture
            if read is not None:
                image = read
            elif grey is not None:
                image = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
            else:
                raise FileFormatError(f"marker {marker.marker_id!r}: no picture to draw on ({marker.source})")
        pictures[marker.marker_id] = image
        from_library[marker.marker_id] = [
            Aoi(name=aoi.name, polygon=tuple((float(x), float(y)) for x, y in aoi.polygon_px)) for aoi in marker.aois
        ]
        digest.update(f"{marker.marker_id}\0{marker.width_m}\0".encode())
        digest.update(hashlib.sha256(image.tobytes()).digest())
    file_aois = None if aoi_file is None else load_aoi_file(aoi_file)
    sizes = {marker: (image.shape[1], image.shape[0]) for marker, image in pictures.items()}
    aois = resolve_aois(sizes, from_library, file_aois, f"AOI file {aoi_file}")
    return MarkerPictures(library, pictures, aois, digest.hexdigest())


def check_same_library(sessions: Sequence[SessionTables], libraries: Sequence[MarkerPictures]) -> None:
    """Refuse sessions recorded with different marker libraries (their AOIs would not compare).

    Raises
    ------
    FileFormatError
        Naming the first two sessions that differ and a marker that differs.
    """
    first, reference = sessions[0], libraries[0]
    for session, library in zip(sessions[1:], libraries[1:]):
        if library.fingerprint == reference.fingerprint:
            continue
        markers = sorted(set(reference.pictures) ^ set(library.pictures)) or [
            marker
            for marker in reference.pictures
            if marker not in library.pictures
            or not np.array_equal(reference.pictures[marker], library.pictures[marker])
        ]
        which = f"marker {markers[0]!r} differs" if markers else "a marker's width differs"
        raise FileFormatError(
            f"sessions {first.name} and {session.name} use different marker libraries ({which}): "
            "compute the metrics of each library's sessions separately"
        )


def session_metrics_table(tables: SessionTables, pictures: MarkerPictures, margin_deg: float) -> pd.DataFrame:
    """The rows of one session's aoi_metrics.tsv (``reach`` still NaN)."""
    hits = fixation_aoi_hits(tables.on_markers, pictures.aois, pictures.image_sizes, margin_deg)
    return session_metrics(
        tables.fixations, hits, tables.trials, pictures.aois, tables.name, tables.participant, tables.condition
    )


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "_"


def _picture_px(rows: pd.DataFrame, size: tuple[int, int]) -> np.ndarray:
    return np.column_stack([rows["u"].to_numpy(float) * size[0], rows["v"].to_numpy(float) * size[1]]) - 0.5


def session_pictures(
    sessions: Sequence[SessionTables], pictures: MarkerPictures, sigma_deg: float
) -> dict[str, np.ndarray]:
    """Heatmaps per session and pooled, scanpaths per session, trial and marker, by relative file path."""
    drawn: dict[str, np.ndarray] = {}
    on = [s.on_markers[s.on_markers["on_marker"].astype(bool)] for s in sessions]
    groups: list[tuple[str, pd.DataFrame]] = [(_safe(s.name), rows) for s, rows in zip(sessions, on)]
    if len(sessions) > 1:
        groups.append(("pooled", pd.concat(on, ignore_index=True)))
    for folder, rows in groups:
        for marker, picture in pictures.pictures.items():
            mine = rows[rows["marker"] == marker]
            size = pictures.image_sizes[marker]
            scale = mine["px_per_deg"].to_numpy(float)
            sigma = (
                np.where(np.isfinite(scale), scale, np.nanmedian(scale) if np.isfinite(scale).any() else 1) * sigma_deg
            )
            caption = f"{marker}: {len(mine)} fixations, {mine['duration'].sum():.1f} s, sigma {sigma_deg:g} deg"
            image = heatmap_picture(
                picture,
                _picture_px(mine, size),
                mine["duration"].to_numpy(float),
                sigma,
                pictures.aois[marker],
                caption,
            )
            drawn[f"heatmaps/{folder}/{_safe(marker)}.png"] = image
    for session in sessions:
        rows = session.on_markers[session.on_markers["on_marker"].astype(bool)].sort_values("onset", kind="stable")
        for trial in session.trials:
            in_trial = rows[(rows["onset"] >= trial.start_s) & (rows["onset"] < trial.end_s)]
            for marker, mine in in_trial.groupby("marker", sort=False):
                marker = str(marker)
                if marker not in pictures.pictures:
                    continue
                size = pictures.image_sizes[marker]
                caption = f"{session.name}, trial {trial.name}, {marker}: {len(mine)} fixations"
                image = scanpath_picture(
                    pictures.pictures[marker],
                    _picture_px(mine, size),
                    mine["duration"].to_numpy(float),
                    pictures.aois[marker],
                    caption,
                )
                drawn[f"scanpaths/{_safe(session.name)}/{_safe(trial.name)}/{_safe(marker)}.png"] = image
    return drawn


class MetricsResult(NamedTuple):
    """What ``gazefusion metrics`` wrote.

    Attributes
    ----------
    out_dir : pathlib.Path
        The folder.
    metrics : pandas.DataFrame
        The rows of aoi_metrics.tsv.
    pictures : tuple[str, ...]
        The PNGs written, relative to `out_dir`.
    """

    out_dir: Path
    metrics: pd.DataFrame
    pictures: tuple[str, ...]


def write_metrics(
    sessions: Iterable[str | Path],
    out_dir: str | Path,
    aoi_file: str | Path | None = None,
    margin_deg: float = DEFAULT_MARGIN_DEG,
    sigma_deg: float = DEFAULT_SIGMA_DEG,
    pictures: bool = True,
) -> MetricsResult:
    """``gazefusion metrics``: aoi_metrics.tsv (with its sidecar and reach), heatmaps and scanpaths.

    Parameters
    ----------
    sessions : Iterable[str or pathlib.Path]
        Session folders (recorded, or a replay's output folder).
    out_dir : str or pathlib.Path
        A new (or empty) folder to write into.
    aoi_file : str, pathlib.Path or None
        AOIs to use instead of the marker library's, per marker it names. (default: None)
    margin_deg : float
        Margin around every AOI, degrees of visual angle. (default: `DEFAULT_MARGIN_DEG`)
    sigma_deg : float
        Heatmap spread, degrees of visual angle. (default: `DEFAULT_SIGMA_DEG`)
    pictures : bool
        Draw the heatmaps and scanpaths. (default: True)

    Raises
    ------
    GazefusionError
        Any session, library or AOI file refused (nothing is written then), an output folder
        that holds files already or cannot be written.
    """
    folders = [Path(session) for session in sessions]
    out = Path(out_dir)
    if not folders:
        raise FileFormatError("no session given")
    if not math.isfinite(margin_deg) or margin_deg < 0:
        raise FileFormatError(f"the AOI margin must be 0 or more degrees, got {margin_deg}")
    if not math.isfinite(sigma_deg) or sigma_deg <= 0:
        raise FileFormatError(f"the heatmap sigma must be more than 0 degrees, got {sigma_deg}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OutputError(f"{out} already holds files: write the metrics into a new folder")
    tables = [load_session(folder) for folder in folders]
    names = [t.name for t in tables]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise FileFormatError(f"two sessions are named {twice[0]!r}: give each session folder its own name")
    libraries = {}
    for table in tables:
        if table.library not in libraries:
            libraries[table.library] = load_pictures(table.library, aoi_file)
    check_same_library(tables, [libraries[t.library] for t in tables])
    library = libraries[tables[0].library]
    metrics = add_reach(pd.concat([session_metrics_table(t, library, margin_deg) for t in tables], ignore_index=True))
    drawn = session_pictures(tables, library, sigma_deg) if pictures else {}
    _write_all(out, metrics, drawn)
    return MetricsResult(out, metrics, tuple(drawn))


def write_metrics_table(directory: Path, metrics: pd.DataFrame) -> Path:
    """aoi_metrics.tsv and its sidecar in `directory` (a batch writes each session's this way).

    Parameters
    ----------
    directory : pathlib.Path
        An existing folder.
    metrics : pandas.DataFrame
        Rows with the columns of :data:`AOI_METRICS`.
    """
    AOI_METRICS.write_sidecar(directory)
    with TableWriter(directory / AOI_METRICS.file, AOI_METRICS.names) as table:
        for row in metrics.to_dict("records"):
            table.write(row)
    return directory / AOI_METRICS.file


def _write_all(out: Path, metrics: pd.DataFrame, drawn: Mapping[str, np.ndarray]) -> None:
    """Write everything into a temporary folder beside `out`, then rename it into place."""
    staging = out.parent / f".{out.name}.tmp-{os.getpid()}"
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        write_metrics_table(staging, metrics)
        for relative, image in drawn.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(path), image):
                raise OSError(f"cannot write {path}")
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except (OSError, GazefusionError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"cannot write the metrics into {out}: {getattr(exc, 'strerror', None) or exc}") from None
