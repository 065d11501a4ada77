"""The session folder (docs/formats/session.md): written as a run goes, read back for replay.

A session is a folder::

    session.yaml     start time, software version, the whole configuration, calibration used
    gaze.tsv         every gaze sample fed to the core (the trackers' gaze table)
    video.mjpeg      the camera's JPEG frames as received, concatenated, not re-encoded
    frames.tsv       index, t, t_source, offset, size, fed_after (see below)
    fixations.tsv    every fixation at its end
    looks.tsv        every look (first / change / end, see fusion.core)
    events.jsonl     fixation events, looks, tracker and camera events, marks, trials
    gaze_on_markers.tsv, fixations_on_markers.tsv, marker_positions.tsv: gaze and fixations
                     mapped onto the markers found, and where those were (with a marker library)

Each table has a JSON sidecar beside it (``gaze.json`` …) describing every column and its
unit. ``fed_after`` in frames.tsv is the number of gaze rows fed to the core before that
frame, or -1 for a frame the core did not process (it fell behind): replay feeds the very
same sequence, so it gives the same events as the live run did.

:mod:`.tables` declares the tables, :class:`SessionRecorder` writes any record into the tables
declared for its type, :class:`SessionReader` reads a folder back. The camera recording
(video.mjpeg with frames.tsv) is read by :mod:`gazefusion.fusion.camera.recorded`, so a session
folder is also a camera source.
"""

from gazefusion.fusion.session.reader import SESSION_FILES, SessionReader, relocated_config
from gazefusion.fusion.session.recorder import SessionRecorder
from gazefusion.fusion.session.tables import EVENTS, TABLES, Column, Table, event, table

__all__ = [
    "EVENTS",
    "SESSION_FILES",
    "TABLES",
    "Column",
    "SessionReader",
    "SessionRecorder",
    "Table",
    "event",
    "relocated_config",
    "table",
]
