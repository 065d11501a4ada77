"""Credentials out of URLs: for authentication (split) and for display (redact)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from gazefusion.fusion.camera import redact_url
from gazefusion.fusion.camera.urls import split_credentials
from gazefusion.fusion.cli import main
from gazefusion.fusion.config import CameraConfig

from .servers import PASSWORD, USER


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://admin:s3cr%40t@10.0.0.5:8080/video.mjpg", "http://***@10.0.0.5:8080/video.mjpg"),
        ("http://admin@cam/x", "http://***@cam/x"),
        ("snapshot+https://u:p@cam/snap.jpg", "snapshot+https://***@cam/snap.jpg"),
        ("rtsp://u:p@cam:554/s1", "rtsp://***@cam:554/s1"),
        ("http://cam/cgi?user=admin&pwd=1234&res=vga", "http://cam/cgi?user=***&pwd=***&res=vga"),
        ("http://cam/video.mjpg?fps=15", "http://cam/video.mjpg?fps=15"),
        ("http://cam/a@b", "http://cam/a@b"),
        ("0", "0"),
        ("clip.mp4", "clip.mp4"),
    ],
    ids=["user-pass-port", "user-only", "snapshot", "rtsp", "query", "clean-query", "at-in-path", "device", "file"],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_split_credentials_decodes_and_keeps_the_rest() -> None:
    split = split_credentials("http://admin:s3cr%40t@[::1]:8080/video.mjpg?x=1")
    assert split == ("http://[::1]:8080/video.mjpg?x=1", "admin", "s3cr@t")


def test_split_without_credentials_is_unchanged() -> None:
    assert split_credentials("http://cam/x") == ("http://cam/x", None, None)


# -- credentials that never touch the command line, against motion with basic and digest auth --
def _camera_config(tmp_path: Path, **camera: str) -> Path:
    path = tmp_path / "camera.yaml"
    path.write_text(yaml.safe_dump({"camera": camera}))
    return path


@pytest.mark.slow
def test_password_from_the_environment_never_shows_in_the_process_list(real_server, tmp_path: Path) -> None:
    """camera.username + camera.password_env: `ps` and session.yaml never see the password (item 8)."""
    server = real_server("motion", auth="digest")
    config = _camera_config(tmp_path, username=USER, password_env="GAZEFUSION_TEST_CAMERA_PASSWORD")
    folder = tmp_path / "session"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from gazefusion.fusion.cli import main; sys.exit(main())",
            "run",
            "--config",
            str(config),
            "--camera",
            server.stream_url,
            "--tracker",
            "mock:1?rate=100",
            "--record",
            str(folder),
            "--headless",
            "--seconds",
            "4",
        ],
        env={**os.environ, "GAZEFUSION_TEST_CAMERA_PASSWORD": PASSWORD},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    command_lines = []
    while process.poll() is None:
        try:
            command_lines.append(Path(f"/proc/{process.pid}/cmdline").read_bytes())
        except OSError:
            break
        time.sleep(0.2)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert command_lines and not any(PASSWORD.encode() in line for line in command_lines)
    frames = int(out.split("summary: ")[1].split(" frames")[0].split(", ")[-1])
    assert frames > 5
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".tsv", ".jsonl"):
            assert PASSWORD not in path.read_text(errors="replace"), path
    recorded = yaml.safe_load((folder / "session.yaml").read_text())["config"]["camera"]
    assert recorded["password_env"] == "GAZEFUSION_TEST_CAMERA_PASSWORD" and recorded["password"] is None


@pytest.mark.parametrize("auth", ["basic", "digest"])
def test_netrc_gives_the_credentials(real_server, tmp_path: Path, monkeypatch, capsys, auth: str) -> None:
    server = real_server("motion", auth=auth)
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert main(["probe", server.stream_url, "--frames", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["frames"] == 3


def test_password_in_the_config_file_is_redacted_in_the_session(real_server, tmp_path: Path, capsys) -> None:
    server = real_server("motion", auth="basic")
    config = _camera_config(tmp_path, username=USER, password=PASSWORD)
    folder = tmp_path / "session"
    code = main(
        [
            "run",
            "--config",
            str(config),
            "--camera",
            server.stream_url,
            "--tracker",
            "mock:1?rate=100",
            "--record",
            str(folder),
            "--headless",
            "--seconds",
            "2",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert yaml.safe_load((folder / "session.yaml").read_text())["config"]["camera"]["password"] == "***"
    assert PASSWORD not in (folder / "session.yaml").read_text()


def test_password_env_that_is_not_set(real_server, tmp_path: Path, monkeypatch, capsys) -> None:
    server = real_server("motion", auth="digest")
    monkeypatch.delenv("GAZEFUSION_NO_SUCH_VARIABLE", raising=False)
    config = _camera_config(tmp_path, username=USER, password_env="GAZEFUSION_NO_SUCH_VARIABLE")
    assert main(["probe", server.stream_url, "--config", str(config), "--frames", "1"]) == 2
    assert capsys.readouterr().err.strip() == (
        "gazefusion: camera.password_env names GAZEFUSION_NO_SUCH_VARIABLE, which is not set in the environment: "
        "export GAZEFUSION_NO_SUCH_VARIABLE=… before the run"
    )


def test_credentials_go_into_the_url_opencv_opens() -> None:
    from gazefusion.fusion.camera.urls import camera_credentials, with_credentials

    config = CameraConfig(username="op@site", password="p:w/d")
    split = camera_credentials("rtsp://127.0.0.1:8554/stream", config)
    assert with_credentials(split) == "rtsp://op%40site:p%3Aw%2Fd@127.0.0.1:8554/stream"
    assert camera_credentials("rtsp://a:b@127.0.0.1/x", config) == ("rtsp://127.0.0.1/x", "a", "b")
