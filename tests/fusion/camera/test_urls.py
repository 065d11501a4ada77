"""Credentials out of URLs: for authentication (split) and for display (redact)."""

from __future__ import annotations

import pytest

from gazefusion.fusion.camera import redact_url
from gazefusion.fusion.camera.urls import split_credentials


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
