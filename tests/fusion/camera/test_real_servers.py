"""Smoke: each real server starts and serves bytes."""
import socket, time
import pytest

@pytest.mark.parametrize("kind", ["motion", "rtsp", "vlc", "tcp"])
def test_starts(real_server, kind):
    s = real_server(kind)
    assert s.process.poll() is None
