"""`gazefusion probe` at the command line: figures out, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from gazefusion.fusion.cli import main
from tests.conftest import free_port


def test_probe_reads_the_ffmpeg_stream_as_json(ffmpeg_camera, capsys) -> None:
    assert main(["probe", ffmpeg_camera.url, "--frames", "8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames"] == 8
    assert (report["width"], report["height"]) == (640, 480)
    assert report["corrupt"] == 0 and report["reconnects"] == 0
    assert report["fps"] > 0 and report["latency_max_ms"] >= report["latency_p95_ms"] >= report["latency_median_ms"] > 0
    assert set(report) >= {
        "frames",
        "fps",
        "width",
        "height",
        "corrupt",
        "dropped",
        "reconnects",
        "latency_median_ms",
        "latency_p95_ms",
        "latency_max_ms",
    }


def test_probe_table(tmp_path: Path, capsys) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 100.0, (32, 24))
    for i in range(5):
        writer.write(np.full((24, 32, 3), 40 * i, np.uint8))
    writer.release()
    assert main(["probe", str(path), "--frames", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = dict(line.split(None, 1) for line in lines)
    assert table["frames"] == "5" and table["width"] == "32" and table["height"] == "24"


@pytest.mark.parametrize(
    ("args", "code", "line"),
    [
        (
            ["http://admin:pw123@127.0.0.1:{port}/stream"],
            2,
            "gazefusion: camera http://***@127.0.0.1:{port}/stream: connection refused (is the camera on, and the port right?)",
        ),
        (["no/such/clip.mp4"], 2, "gazefusion: camera source 'no/such/clip.mp4' names nothing openable"),
        (["none", "--frames", "0"], 2, "gazefusion: --frames must be at least 1, not 0"),
        (["none", "--frames", "2", "--timeout", "0.05"], 1, "gazefusion: camera none: only 0 of 2 frames arrived"),
    ],
    ids=["refused", "unopenable", "bad-frames", "too-few-frames"],
)
def test_probe_errors_are_one_line(capsys, args: list[str], code: int, line: str) -> None:
    port = free_port()
    assert main(["probe", *(a.format(port=port) for a in args)]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(line.format(port=port))
    assert "pw123" not in err[0] and "Traceback" not in err[0]


def test_probe_refuses_a_page_that_is_not_a_stream(real_server, capsys) -> None:
    """motion's wrong camera id (200, no Content-Type, HTML): one line and exit 2 at the start,
    not 19 reconnects and 40 lines (issue 15, item 1)."""
    server = real_server("motion")
    url = server.url(server.wrong_id_path)
    assert main(["probe", url, "--frames", "5", "--timeout", "3"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"gazefusion: camera {url}: answers with no Content-Type and an HTML page (a wrong path or camera id?), "
        "not an MJPEG stream; check the URL"
    ]
