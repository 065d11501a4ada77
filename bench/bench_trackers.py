"""Benchmark: the iViewX client's receive thread at 2,000 samples/s, against a plain peer.

Over loopback, the iViewX simulator (``gazefusion simulate iviewx``, its own process) sends
binocular samples in the long format ``%TU %ET %SX %SY %DX %DY %EX %EY %EZ``:

1. sustained: the client takes 2,000 samples/s for ``--seconds`` (60 by default) while a
   consumer drains it; passes with zero loss and the receive thread under 15 % of one core
   (the thread's own CPU time, from /proc/self/task/<tid>/stat);
2. peer: a plain single-threaded receive-and-split loop on the same stream, measured the
   same way: the ratio of CPU per sample, client / peer;
3. ramp: higher rates for a few seconds each, to find where loss begins. The simulator
   (scripted gaze, faults, records) tops out near 14,000 samples/s in Python, so the ramp's
   sender is a lean one in its own process (``--blast``): the same long-format lines, only
   paced and sent, answering ET_PNG / ET_SRT / ET_STR / ET_EST.

Usage: ``nice python bench/bench_trackers.py [--seconds 60] [--ramp 4000 8000 …]``.
Exit status 0 when the sustained run passes.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import NamedTuple

from gazefusion.fusion.config import IViewXConfig, TrackerConfig
from gazefusion.trackers.iviewx.client import IViewXClient
from gazefusion.trackers.iviewx.protocol import LONG_FORMAT

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def thread_cpu_s(native_id: int) -> float:
    """CPU time (user + system) of one thread of this process, s."""
    with open(f"/proc/self/task/{native_id}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


class Simulator:
    """``gazefusion simulate iviewx`` (or the lean sender) in a subprocess, so its sending
    does not share our GIL."""

    def __init__(self, rate_hz: float, lean: bool = False) -> None:
        self.port = _free_udp_port()
        if lean:
            command = [sys.executable, __file__, "--blast", str(self.port), str(rate_hz)]
        else:
            command = [
                sys.executable,
                "-c",
                "import sys; from gazefusion.fusion.cli import main; sys.exit(main(sys.argv[1:]))",
                "-q",
                "simulate",
                "iviewx",
                "--port",
                str(self.port),
                "--rate",
                str(rate_hz),
                "--binocular",
            ]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = self.process.stdout.readline()
        if "listening" not in first:
            raise RuntimeError(f"simulator did not start: {first}{self.process.stderr.read()}")

    def stop(self) -> int:
        """Stop it; the number of samples it sent."""
        self.process.send_signal(signal.SIGINT)
        out, _ = self.process.communicate(timeout=30)
        match = re.search(r"sent (\d+) samples", out)
        if match is None:
            raise RuntimeError(f"simulator gave no summary: {out[-500:]}")
        return int(match.group(1))


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Run(NamedTuple):
    rate_hz: float
    seconds: float
    sent: int
    received: int
    gaps: int
    dropped: int
    malformed: int
    cpu_s: float

    @property
    def lost(self) -> int:
        return self.sent - self.received

    @property
    def core_fraction(self) -> float:
        return self.cpu_s / self.seconds

    @property
    def cpu_us_per_sample(self) -> float:
        return self.cpu_s / max(self.received, 1) * 1e6


def blast(port: int, rate_hz: float) -> None:
    """The lean sender: long-format binocular lines at `rate_hz`, paced, until SIGINT."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
    sock.bind(("127.0.0.1", port))
    sock.settimeout(0.0)
    tails = [
        f"b {700 + i % 50}.125 {706 + i % 50}.125 {400 + i % 30}.5 {401 + i % 30}.5 12.105 12.201 "
        f"10.957 11.003 -31.5 31.5 3.225 3.301 587.446 588.102"
        for i in range(1000)
    ]
    print("lean sender listening", flush=True)
    client = None
    sent = 0
    streaming = False
    t0 = 0.0
    try:
        while True:
            try:
                data, address = sock.recvfrom(65536)
                client = address
                command = data.split()[0] if data.split() else b""
                if command == b"ET_PNG":
                    sock.sendto(b"ET_PNG\n", client)
                elif command == b"ET_SRT":
                    sock.sendto(f"ET_SRT {rate_hz:g}\n".encode(), client)
                elif command == b"ET_STR":
                    streaming, t0, first = True, time.monotonic(), sent
                elif command == b"ET_EST":
                    streaming = False
            except BlockingIOError:
                pass
            if not streaming:
                time.sleep(0.001)
                continue
            due = first + int((time.monotonic() - t0) * rate_hz)
            while sent < due:
                sock.sendto(f"ET_SPL {1_000_000 + round(sent * 1e6 / rate_hz)} {tails[sent % 1000]}\n".encode(), client)
                sent += 1
            time.sleep(0.0002)
    except KeyboardInterrupt:
        print(f"sent {sent} samples", flush=True)


def run_client(rate_hz: float, seconds: float, lean: bool = False) -> Run:
    """Stream through IViewXClient with a consumer draining it; CPU of the receive thread."""
    simulator = Simulator(rate_hz, lean)
    try:
        config = TrackerConfig(
            iviewx=IViewXConfig(sample_format=LONG_FORMAT, ping_timeout_s=5.0), watchdog_s=5.0, queue_samples=1_000_000
        )
        with IViewXClient("127.0.0.1", simulator.port, 0, "127.0.0.1", config) as client:
            receiver = client._threads[0]
            received = 0
            client.start_streaming()
            cpu0 = thread_cpu_s(receiver.native_id)
            start = time.monotonic()
            end = start + seconds
            while time.monotonic() < end:
                if client.get_sample(0.5) is not None:
                    received += 1
            client.stop_streaming()
            elapsed = time.monotonic() - start
            while client.get_sample(0.5) is not None:
                received += 1
            cpu = thread_cpu_s(receiver.native_id) - cpu0
            stats = client.stats()
    finally:
        sent = simulator.stop()
    return Run(rate_hz, elapsed, sent, received, stats.gaps, stats.dropped, stats.malformed, cpu)


def run_peer(rate_hz: float, seconds: float) -> Run:
    """The peer: one thread, recvfrom and split, nothing else (no parse into samples, no queue)."""
    simulator = Simulator(rate_hz)
    received = malformed = 0
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(0.5)
            target = ("127.0.0.1", simulator.port)
            sock.sendto(f'ET_FRM "{LONG_FORMAT}"\n'.encode(), target)
            sock.sendto(b"ET_STR\n", target)
            me = threading.get_native_id()
            cpu0 = thread_cpu_s(me)
            start = time.monotonic()
            end = start + seconds
            stopping = False
            while True:
                now = time.monotonic()
                if now >= end and not stopping:
                    sock.sendto(b"ET_EST\n", target)
                    stopping = True
                try:
                    data, _ = sock.recvfrom(65536)
                except TimeoutError:
                    if stopping:
                        break
                    continue
                tokens = data.decode("latin-1").split()
                if tokens and tokens[0] == "ET_SPL":
                    received += 1
                else:
                    malformed += 1
            elapsed = time.monotonic() - start - 0.5
            cpu = thread_cpu_s(me) - cpu0
    finally:
        sent = simulator.stop()
    return Run(rate_hz, elapsed, sent, received, 0, 0, malformed, cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="sustained run and peer, s (default: 60)")
    parser.add_argument("--rate", type=float, default=2000.0, help="sustained rate, Hz (default: 2000)")
    parser.add_argument(
        "--ramp",
        type=float,
        nargs="*",
        default=[4000.0, 8000.0, 12000.0, 16000.0, 24000.0, 32000.0],
        help="rates to try until loss begins, Hz (default: 4000 8000 12000 16000 24000 32000)",
    )
    parser.add_argument("--ramp-seconds", type=float, default=5.0, help="seconds per ramp step (default: 5)")
    parser.add_argument("--blast", nargs=2, metavar=("PORT", "RATE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.blast:
        blast(int(args.blast[0]), float(args.blast[1]))
        return 0

    print(f"iViewX client benchmark: binocular {LONG_FORMAT!r} over loopback UDP, simulator in its own process")
    sustained = run_client(args.rate, args.seconds)
    passed = sustained.lost == 0 and sustained.gaps == 0 and sustained.dropped == 0 and sustained.core_fraction < 0.15
    print(
        f"sustained {sustained.rate_hz:g} Hz for {sustained.seconds:.1f} s: sent {sustained.sent}, received "
        f"{sustained.received}, lost {sustained.lost} (gaps {sustained.gaps}, dropped {sustained.dropped}, "
        f"malformed {sustained.malformed}); receive thread CPU {sustained.cpu_s:.2f} s = "
        f"{100 * sustained.core_fraction:.1f} % of one core (limit 15 %), "
        f"{sustained.cpu_us_per_sample:.1f} us/sample: {'PASS' if passed else 'FAIL'}"
    )
    peer = run_peer(args.rate, args.seconds)
    print(
        f"peer (single-threaded recvfrom + split) {peer.rate_hz:g} Hz for {peer.seconds:.1f} s: received "
        f"{peer.received} of {peer.sent}; CPU {peer.cpu_s:.2f} s = {100 * peer.core_fraction:.1f} % of one core, "
        f"{peer.cpu_us_per_sample:.1f} us/sample"
    )
    print(f"CPU per sample, client receive thread / peer: {sustained.cpu_us_per_sample / peer.cpu_us_per_sample:.2f}")
    onset = None
    below = args.rate
    for rate in args.ramp:
        step = run_client(rate, args.ramp_seconds, lean=True)
        fraction = step.lost / max(step.sent, 1)
        print(
            f"ramp {rate:g} Hz (lean sender) for {step.seconds:.1f} s: sent {step.sent} ({step.sent / step.seconds:.0f}/s), "
            f"lost {step.lost} ({100 * fraction:.3f} %), gaps {step.gaps}; receive thread "
            f"{100 * step.core_fraction:.1f} % of one core"
        )
        if step.lost > 0:
            onset = rate
            break
        below = rate
    if onset is None:
        print(f"loss begins: above {max(args.ramp, default=args.rate):g} Hz (none seen up to there)")
    else:
        print(f"loss begins: between {below:g} and {onset:g} Hz")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
