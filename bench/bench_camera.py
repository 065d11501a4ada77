"""Camera ingest: gazefusion's MJPEG source against cv2.VideoCapture, the seed approach and
decode-only, all measured in the same run on the same loopback stream.

Frames: ffmpeg's testsrc2 pattern encoded as MJPEG (quality 5, as an IP camera would send
it), 60 distinct frames per size, 640x480 and 1280x720. A server *process* (so it does not
share the client's interpreter lock) sends them over loopback as multipart/x-mixed-replace
with Content-Length, as fast as the client takes them (throughput), or paced at a fixed rate
(freshness; each JPEG then carries its sequence number in a comment segment).

The machine is shared: the methods take turns in rounds and the medians are reported, CPU
figures are the client's own CPU time per frame (robust to other load), fps are wall-clock.

Measured, per size:
- ``decode-only``: simplejpeg (and cv2.imdecode) on the same JPEGs in memory: the ceiling of
  one decoding thread;
- ``cv2.VideoCapture``: ``read()`` in a loop on the URL (OpenCV's FFmpeg backend);
- ``seed``: read 1024 bytes, concatenate, search the whole buffer for FFD8/FFD9, cv2.imdecode;
- ``gazefusion``: `MjpegSource` (receive+parse on one thread, decode on another) with a
  consumer taking every new frame with ``latest``; also with the cv2 decoder, to show what
  the decoder choice gives, and with the ``fast`` and ``half`` decoders (camera.decoder);
- parsing cost: the multipart parser alone on the same bytes, with Content-Length and without
  (JPEG marker scan), as a share of the decode time;
- freshness: the server paced at ``--camera-hz``, a consumer at half that rate (at a random
  phase within each camera interval); the age of the frame each consumer call gets (send time
  to hand-over), against the bound one frame interval plus one decode (wall-clock decode-only
  time); cv2.VideoCapture read at the same half rate for comparison.
- decoder options (decode-only): fast DCT + fast upsampling, grayscale, half size;
- CPU per frame by thread (reader, decoder, consumer), and the bound the decoder thread puts
  on the rate when the reader has the other core.

Run:  nice -n 10 python bench/bench_camera.py [--seconds 1.5] [--rounds 5] [--camera-hz 60]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import shutil
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import SynchronizedArray

import cv2
import numpy as np
import simplejpeg

from gazefusion.fusion.camera import MjpegSource
from gazefusion.fusion.camera.decode import decode_cv2, decode_fast, decode_half, decode_simplejpeg
from gazefusion.fusion.camera.multipart import MultipartParser
from gazefusion.fusion.config import CameraConfig

SIZES = ((640, 480), (1280, 720))
N_FRAMES = 60
SENT_SLOTS = 1 << 16
CHUNK = 64 * 1024


# -- the frames ---------------------------------------------------------------------------
def encode_frames(width: int, height: int) -> list[bytes]:
    """testsrc2 frames as an IP camera's MJPEG (ffmpeg), or cv2-encoded gradients without ffmpeg."""
    if shutil.which("ffmpeg"):
        data = subprocess.run(
            [
                "ffmpeg",
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size={width}x{height}:rate=30",
                "-frames:v",
                str(N_FRAMES),
                "-c:v",
                "mjpeg",
                "-q:v",
                "5",
                "-f",
                "mjpeg",
                "pipe:1",
            ],
            check=True,
            capture_output=True,
        ).stdout
        parser = MultipartParser(None)
        frames = [part for part in parser.feed(data) if isinstance(part, bytes)]
        if len(frames) == N_FRAMES:
            return frames
    frames = []
    for i in range(N_FRAMES):
        x = np.linspace(0, 255, width, dtype=np.float32)[None, :] + i * 4
        image = np.dstack([np.broadcast_to(x, (height, width))] * 3).astype(np.uint8)
        cv2.putText(image, f"{i:04d}", (40, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 4, (255, 255, 255), 8)
        frames.append(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
    return frames


def part_bytes(jpeg: bytes, content_length: bool = True) -> bytes:
    length = f"Content-Length: {len(jpeg)}\r\n" if content_length else ""
    return f"--frame\r\nContent-Type: image/jpeg\r\n{length}\r\n".encode() + jpeg + b"\r\n"


# -- the server process -------------------------------------------------------------------
def _serve(pipe: Connection, frames: list[bytes], rate_hz: float, sent: SynchronizedArray) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    pipe.send(listener.getsockname()[1])
    parts = [part_bytes(f) for f in frames]

    def numbered(seq: int) -> bytes:
        """The part with its sequence number in a JPEG comment (COM) segment after SOI."""
        jpeg = frames[seq % len(frames)]
        comment = b"seq=%d" % seq
        return part_bytes(jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + jpeg[2:])

    def client(sock: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                return
            head += chunk
        sock.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n"
            b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
        )
        seq = 0
        due = time.monotonic()
        try:
            while True:
                if rate_hz:
                    due += 1.0 / rate_hz
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    sent[seq % SENT_SLOTS] = time.monotonic()
                    sock.sendall(numbered(seq))
                else:
                    sock.sendall(parts[seq % len(parts)])
                seq += 1
        except OSError:
            pass
        finally:
            sock.close()

    while True:
        sock, _ = listener.accept()
        threading.Thread(target=client, args=(sock,), daemon=True).start()


class Server:
    """A loopback MJPEG server in its own process; `sent[seq]` is when part `seq` went out (paced only)."""

    def __init__(self, frames: list[bytes], rate_hz: float = 0.0) -> None:
        context = mp.get_context("fork")
        self.sent = context.Array("d", SENT_SLOTS, lock=False)
        parent, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, frames, rate_hz, self.sent), daemon=True)
        self.process.start()
        self.url = f"http://127.0.0.1:{parent.recv()}/stream"

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(5)


# -- throughput ---------------------------------------------------------------------------
def decode_only(frames: list[bytes], decode: Callable[[bytes], object], seconds: float) -> float:
    return decode_only_cpu(frames, decode, seconds)[0]


def decode_only_cpu(frames: list[bytes], decode: Callable[[bytes], object], seconds: float) -> tuple[float, float]:
    """(fps, CPU ms per frame) of decoding in memory on this thread."""
    n = 0
    cpu = time.thread_time()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        decode(frames[n % len(frames)])
        n += 1
    return n / (time.perf_counter() - start), (time.thread_time() - cpu) * 1000 / n


def videocapture_fps(url: str, seconds: float) -> float:
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        return float("nan"), float("nan")
    cap.read()
    n = 0
    cpu = time.process_time()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        ok, _ = cap.read()
        n += ok
    fps = n / (time.perf_counter() - start)
    cpu_ms = (time.process_time() - cpu) * 1000 / max(n, 1)
    cap.release()
    return fps, cpu_ms


def seed_fps(url: str, seconds: float) -> float:
    """The approach the issue calls the seed: 1024-byte reads, whole-buffer marker search."""
    import urllib.request

    stream = urllib.request.urlopen(url)
    buffer = b""
    n = 0
    cpu = time.process_time()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        buffer += stream.read(1024)
        a = buffer.find(b"\xff\xd8")
        b = buffer.find(b"\xff\xd9")
        if a != -1 and b != -1:
            jpeg = buffer[a : b + 2]
            buffer = buffer[b + 2 :]
            if cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) is not None:
                n += 1
    fps = n / (time.perf_counter() - start)
    cpu_ms = (time.process_time() - cpu) * 1000 / max(n, 1)
    stream.close()
    return fps, cpu_ms


def gazefusion_fps(url: str, seconds: float, decoder: Callable[[bytes], np.ndarray]) -> tuple[float, float, float, int]:
    """(decoded fps, CPU ms per decoded frame, fps the consumer got, JPEGs skipped as the decoder was behind)."""
    with MjpegSource(url, CameraConfig(), decoder=decoder) as source:
        frame = source.latest(timeout_s=5)
        assert frame is not None
        first_stats = source.stats()
        got = 0
        cpu = time.process_time()
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            newer = source.latest(frame.index, timeout_s=1)
            if newer is not None:
                frame = newer
                got += 1
        elapsed = time.perf_counter() - start
        stats = source.stats()
        decoded = stats.frames - first_stats.frames
        cpu_ms = (time.process_time() - cpu) * 1000 / max(decoded, 1)
    return decoded / elapsed, cpu_ms, got / elapsed, stats.skipped - first_stats.skipped


class _ThreadTimedSource(MjpegSource):
    """MjpegSource that records the CPU time of its reader and decoder threads."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.thread_cpu_s: dict[str, float] = {}

    def _timed(self, role: str, body: Callable[[], None]) -> None:
        start = time.thread_time()
        try:
            body()
        finally:
            self.thread_cpu_s[role] = time.thread_time() - start

    def _reader_main(self) -> None:
        self._timed("reader", super()._reader_main)

    def _decoder_main(self) -> None:
        self._timed("decoder", super()._decoder_main)


def per_thread_cpu(url: str, seconds: float) -> dict[str, float]:
    """CPU us per decoded frame of the reader, decoder and consumer threads (consumer takes every frame)."""
    source = _ThreadTimedSource(url, CameraConfig())
    with source:
        frame = source.latest(timeout_s=5)
        first = source.stats().frames
        cpu = time.thread_time()
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            frame = source.latest(frame.index, timeout_s=1) or frame
        consumer_s = time.thread_time() - cpu
    frames = source.stats().frames
    return {
        "reader": source.thread_cpu_s["reader"] / frames * 1e6,
        "decoder": source.thread_cpu_s["decoder"] / frames * 1e6,
        "consumer": consumer_s / (frames - first) * 1e6,
    }


# -- parsing cost ---------------------------------------------------------------------------
def parse_seconds_per_frame(frames: list[bytes], content_length: bool, repeat: int = 10) -> float:
    """CPU seconds (this thread's, so preemption by other load does not count) per parsed frame."""
    body = b"".join(part_bytes(f, content_length) for f in frames) * repeat
    chunks = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]
    best = float("inf")
    for _ in range(3):
        parser = MultipartParser(b"frame")
        start = time.thread_time()
        count = sum(len(parser.feed(c)) for c in chunks)
        best = min(best, (time.thread_time() - start) / count)
        assert count == len(frames) * repeat
    return best


# -- freshness ----------------------------------------------------------------------------
def gazefusion_ages(frames: list[bytes], camera_hz: float, seconds: float) -> tuple[list[float], list[float]]:
    """Ages (s) of the frames a consumer at half the camera rate gets: since sent, since arrival."""
    with Server(frames, camera_hz) as server, MjpegSource(server.url, CameraConfig()) as source:
        source.latest(timeout_s=5)
        sent_ages, arrival_ages = [], []
        for _ in half_rate_calls(camera_hz, seconds):
            frame = source.latest(timeout_s=1)
            now = time.monotonic()
            if frame is None:
                continue
            sent_ages.append(now - server.sent[sequence_number(frame.jpeg) % SENT_SLOTS])
            arrival_ages.append(now - frame.t)
    return sent_ages, arrival_ages


def half_rate_calls(camera_hz: float, seconds: float) -> Iterator[None]:
    """Yield when a consumer at half the camera's rate calls, for `seconds`.

    Each call comes at a random phase against the camera's frames, as a real consumer's does;
    the same seed paces every method alike.
    """
    phase = random.Random(1)
    due = time.monotonic()
    end = due + seconds
    while due < end:
        due += 2.0 / camera_hz
        time.sleep(max(0.0, due + phase.uniform(0.0, 1.0 / camera_hz) - time.monotonic()))
        yield


def sequence_number(jpeg: bytes) -> int:
    """The number the paced server wrote into the JPEG's comment segment."""
    length = int.from_bytes(jpeg[4:6], "big")
    return int(jpeg[6 : 4 + length].removeprefix(b"seq="))


def videocapture_ages(frames: list[bytes], camera_hz: float, seconds: float) -> list[float]:
    """Ages (s) of the frames cv2.VideoCapture's read() gives a consumer at half the camera rate."""
    with Server(frames, camera_hz) as server:
        cap = cv2.VideoCapture(server.url, cv2.CAP_FFMPEG)
        ages = []
        seq = -1
        for _ in half_rate_calls(camera_hz, seconds):
            ok, _ = cap.read()
            seq += ok
            if ok:
                ages.append(time.monotonic() - server.sent[seq % SENT_SLOTS])
        cap.release()
    return ages


def summary_ms(ages: list[float]) -> str:
    values = np.asarray(ages) * 1000.0
    return f"median {np.median(values):6.1f}  p99 {np.percentile(values, 99):6.1f}  max {values.max():6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="seconds per throughput measurement (default: 1.5)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of turns; medians are reported (default: 5)")
    parser.add_argument("--camera-hz", type=float, default=60.0, help="paced camera rate for freshness (default: 60)")
    args = parser.parse_args()
    rows = []
    for width, height in SIZES:
        frames = encode_frames(width, height)
        mean_kib = statistics.mean(map(len, frames)) / 1024
        print(f"\n== {width}x{height}: {N_FRAMES} testsrc2 frames, mean {mean_kib:.0f} KiB/JPEG ==")
        # The machine is shared: the methods take turns, round after round; each round's ratios
        # are against VideoCapture in that round, and the medians over rounds are reported.
        runs: dict[str, list] = {
            key: [] for key in ("sj", "cvd", "cap", "seed", "ours", "ours_cv", "ours_fast", "ours_half")
        }
        for _ in range(args.rounds):
            runs["sj"].append(decode_only_cpu(frames, decode_simplejpeg, args.seconds))
            runs["cvd"].append(decode_only_cpu(frames, decode_cv2, args.seconds))
            for key, measure in (
                ("cap", videocapture_fps),
                ("seed", seed_fps),
                ("ours", lambda url, sec: gazefusion_fps(url, sec, decode_simplejpeg)),
                ("ours_cv", lambda url, sec: gazefusion_fps(url, sec, decode_cv2)),
                ("ours_fast", lambda url, sec: gazefusion_fps(url, sec, decode_fast)),
                ("ours_half", lambda url, sec: gazefusion_fps(url, sec, decode_half)),
            ):
                with Server(frames) as server:
                    runs[key].append(measure(server.url, args.seconds))
        median = {key: statistics.median(r[0] for r in value) for key, value in runs.items()}
        ratio = {key: statistics.median(r[0] / c[0] for r, c in zip(value, runs["cap"])) for key, value in runs.items()}
        cpu = {key: statistics.median(r[1] for r in value) for key, value in runs.items()}
        ours_got = statistics.median(r[2] for r in runs["ours"])
        ours_skipped = statistics.median(r[3] for r in runs["ours"])
        sj, cap, seed, ours = median["sj"], median["cap"], median["seed"], median["ours"]
        print(f"{'method':<40}{'fps':>8}{'x VideoCapture':>16}{'CPU ms/frame':>14}")
        for key, name in [
            ("sj", "decode-only simplejpeg (in memory)"),
            ("cvd", "decode-only cv2.imdecode (in memory)"),
            ("cap", "cv2.VideoCapture"),
            ("seed", "seed (1024-byte reads, find FFD8/FFD9)"),
            ("ours", "gazefusion MjpegSource (simplejpeg)"),
            ("ours_cv", "gazefusion MjpegSource (cv2 decoder)"),
            ("ours_fast", "gazefusion, decoder: fast"),
            ("ours_half", "gazefusion, decoder: half (half size)"),
        ]:
            print(f"{name:<40}{median[key]:8.0f}{ratio[key]:16.2f}{cpu[key]:14.2f}")
        print(
            f"  gazefusion: the consumer got {ours_got:.0f} fps; {ours_skipped:.0f} JPEGs skipped in {args.seconds:g} s "
            "while the decoder was behind (the server sends faster than any client decodes)"
        )
        with Server(frames) as server:
            threads = per_thread_cpu(server.url, args.seconds)
        print(
            f"gazefusion CPU per frame by thread: reader {threads['reader']:.0f} us, decoder {threads['decoder']:.0f} us "
            f"(decode alone {cpu['sj'] * 1000:.0f} us), consumer {threads['consumer']:.0f} us; with the reader on the other "
            f"core the decoder thread bounds the rate: {cpu['cap'] * 1000 / threads['decoder']:.2f}x VideoCapture's "
            f"{cpu['cap'] * 1000:.0f} us per frame"
        )
        parse_cl = parse_seconds_per_frame(frames, True)
        parse_scan = parse_seconds_per_frame(frames, False)
        decode_s = cpu["sj"] / 1000.0  # CPU time of one decode
        print(
            f"parsing per frame: {parse_cl * 1e6:.1f} us with Content-Length ({parse_cl / decode_s:.1%} of a decode's {decode_s * 1e6:.0f} us, both CPU time), "
            f"{parse_scan * 1e6:.1f} us by marker scan ({parse_scan / decode_s:.1%})"
        )
        options = {
            "default (BGR, accurate)": lambda d: simplejpeg.decode_jpeg(d, colorspace="BGR"),
            "fastdct + fastupsample": decode_fast,
            "grayscale": lambda d: simplejpeg.decode_jpeg(d, colorspace="GRAY"),
            "half size (DCT scaling)": decode_half,
        }
        option_fps = {name: decode_only(frames, fn, args.seconds / 2) for name, fn in options.items()}
        print(
            "decoder options (decode-only, simplejpeg): "
            + ", ".join(
                f"{name} {fps:.0f} fps ({fps / option_fps['default (BGR, accurate)']:.2f}x)"
                for name, fps in option_fps.items()
            )
        )
        interval_s = 1.0 / args.camera_hz
        decode_wall_s = 1.0 / sj  # how long one decode takes on this machine now
        bound_s = interval_s + decode_wall_s
        sent_ages, arrival_ages = gazefusion_ages(frames, args.camera_hz, 2 * args.seconds)
        cap_ages = videocapture_ages(frames, args.camera_hz, 2 * args.seconds)
        over = sum(a > bound_s for a in sent_ages) / len(sent_ages)
        print(
            f"freshness, camera {args.camera_hz:g} Hz, consumer {args.camera_hz / 2:g} Hz, bound "
            f"{bound_s * 1000:.1f} ms (interval {interval_s * 1000:.1f} + decode {decode_wall_s * 1000:.1f}):"
        )
        print(
            f"  gazefusion since sent:    {summary_ms(sent_ages)}  ({over:.1%} over the bound, {len(sent_ages)} calls)"
        )
        print(f"  gazefusion since arrival: {summary_ms(arrival_ages)}")
        print(f"  cv2.VideoCapture sent:    {summary_ms(cap_ages)}  (a backlog: it returns the oldest unread frame)")
        rows.append(
            (
                f"{width}x{height}",
                sj,
                cap,
                seed,
                ours,
                ratio["ours"],
                parse_cl / decode_s,
                parse_scan / decode_s,
                max(sent_ages),
                bound_s,
                over,
            )
        )
    print("\n== summary ==")
    print(
        f"{'size':<10}{'decode':>8}{'VidCap':>8}{'seed':>7}{'ours':>7}{'ours/VC':>9}{'parse CL':>10}"
        f"{'parse scan':>11}{'max age':>9}{'bound':>7}{'over':>7}"
    )
    for size, sj, cap, seed, ours, ratio, pcl, pscan, age, bound, over in rows:
        print(
            f"{size:<10}{sj:8.0f}{cap:8.0f}{seed:7.0f}{ours:7.0f}{ratio:9.2f}{pcl:10.1%}{pscan:11.1%}"
            f"{age * 1000:8.1f}m{bound * 1000:6.1f}m{over:7.1%}"
        )
    print("(fps columns: medians over rounds; ours/VC: median of the per-round ratios; ages in ms)")


if __name__ == "__main__":
    main()
