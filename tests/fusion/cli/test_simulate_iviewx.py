"""`gazefusion simulate iviewx`, and `gazefusion run` against a tracker that never answers."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import pytest

from gazefusion.fusion.cli import main
from gazefusion.fusion.config import IViewXConfig, TrackerConfig
from gazefusion.trackers.iviewx.client import IViewXClient


def test_simulator_serves_for_the_given_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(
            main(["simulate", "iviewx", "--port", "0", "--rate", "250", "--binocular", "--seconds", "2"])
        )
    )
    thread.start()
    received = 0
    out = ""
    try:
        # The simulator picks a free port and says which: no race for a port chosen beforehand.
        deadline = time.monotonic() + 10.0
        while "listening" not in out and time.monotonic() < deadline and thread.is_alive():
            out += capsys.readouterr().out
            time.sleep(0.02)
        match = re.search(r"listening on UDP 127\.0\.0\.1:(\d+)", out)
        assert match, out
        port = int(match.group(1))
        client = IViewXClient("127.0.0.1", port, 0, "127.0.0.1", TrackerConfig(iviewx=IViewXConfig(ping_timeout_s=1.0)))
        with client:
            client.start_streaming()
            received = sum(1 for _ in zip(range(50), client.samples(timeout_s=1.0)))
    finally:
        thread.join(10)
    assert result == [0] and received == 50
    lines = (out + capsys.readouterr().out).splitlines()
    assert lines[0].startswith(f"iViewX simulator listening on UDP 127.0.0.1:{port}, 250 Hz binocular")
    assert any(line.endswith("-> ET_PNG") for line in lines) and any(line.endswith("-> ET_STR") for line in lines)
    assert lines[-1].startswith("sent ")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--rate", "30000"], "rate 30000 Hz is outside"),
        (["--loss", "2"], "is not a probability"),
        (["--port", "70000"], "is not a port number"),
        (["--lines-per-datagram", "0"], "must be at least 1"),
    ],
    ids=["rate", "loss", "port", "lines"],
)
def test_bad_flags_one_line(args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "iviewx", "--seconds", "0.1", "--port", "0", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]


def test_port_in_use_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        assert main(["simulate", "iviewx", "--port", str(port), "--seconds", "0.1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"cannot listen on UDP 127.0.0.1:{port}" in err[0]


def test_run_with_a_tracker_that_never_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        code = main(
            [
                "run",
                "--camera",
                "none",
                "--tracker",
                f"iviewx://127.0.0.1:{port}?listen=0",
                "--headless",
                "--seconds",
                "1",
                "--record",
                str(tmp_path / "session"),
                "--config",
                str(_fast_ping(tmp_path)),
            ]
        )
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and err[0].startswith(f"gazefusion: iViewX at 127.0.0.1:{port} did not answer ET_PNG")


def _fast_ping(tmp_path: Path) -> Path:
    path = tmp_path / "fast.yaml"
    path.write_text("tracker:\n  ping_timeout_s: 0.3\n")
    return path
