"""Which video writer survives SIGKILL? Frames readable after a writer process is killed.

Each writer runs in a child process that writes ``--frames`` 640x480 frames at 30 fps
timestamps, waits 0.2 s and kills itself with SIGKILL (what a crash or ``kill -9`` does);
the parent then counts the frames PyAV can decode from what is on disk. Writers: OpenCV's
VideoWriter (FFmpeg back end) to MP4 (mp4v), to MP4 with ``OPENCV_FFMPEG_WRITER_OPTIONS``
asking for a fragmented MP4, to Matroska (mp4v, MJPG) and to AVI (MJPG); and gazefusion's
`RealTimeVideo` (PyAV, fragmented MP4, H.264, a keyframe per second).

Run:  python bench/bench_video_kill.py [--frames 90]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

WRITERS = {
    "opencv mp4 (mp4v)": ("a.mp4", "mp4v", {}),
    "opencv mp4, writer options movflags=frag_keyframe+empty_moov": (
        "b.mp4",
        "mp4v",
        {"OPENCV_FFMPEG_WRITER_OPTIONS": "movflags;frag_keyframe+empty_moov"},
    ),
    "opencv mkv (mp4v)": ("c.mkv", "mp4v", {}),
    "opencv mkv (MJPG)": ("d.mkv", "MJPG", {}),
    "opencv avi (MJPG)": ("e.avi", "MJPG", {}),
    "RealTimeVideo of gazefusion (PyAV, fragmented mp4, H.264)": ("f.mp4", "pyav", {}),
}


def picture(i: int) -> np.ndarray:
    image = np.full((480, 640, 3), (i * 3) % 255, np.uint8)
    cv2.putText(image, str(i), (50, 200), cv2.FONT_HERSHEY_SIMPLEX, 4, (255, 255, 255), 5)
    return image


def child(path: str, kind: str, frames: int) -> None:
    """Write the frames, then die by SIGKILL."""
    if kind == "pyav":
        from gazefusion.fusion.overlay_video import RealTimeVideo

        video = RealTimeVideo(Path(path), (640, 480), start_t=0.0)
        for i in range(frames):
            video.write(picture(i), i / 30.0)
    else:
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*kind), 30.0, (640, 480))
        for i in range(frames):
            writer.write(picture(i))
    time.sleep(0.2)
    os.kill(os.getpid(), signal.SIGKILL)


def readable_frames(path: Path) -> int:
    try:
        with av.open(str(path)) as container:
            return sum(1 for _ in container.decode(video=0))
    except (av.error.FFmpegError, OSError):
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=90, help="frames written before the kill (default: 90)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gazefusion-videokill-"))
    print(f"{'writer':<62} {'bytes':>8} {'frames':>7} of {args.frames}")
    for name, (file, kind, env) in WRITERS.items():
        path = folder / file
        subprocess.run(
            [sys.executable, __file__, "--child", str(path), kind, str(args.frames)],
            env={**os.environ, **env},
            stderr=subprocess.DEVNULL,
            check=False,
        )
        size = path.stat().st_size if path.exists() else 0
        print(f"{name:<62} {size:>8} {readable_frames(path):>7}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
