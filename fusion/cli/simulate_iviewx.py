"""`gazefusion simulate iviewx`: an iViewX server on UDP, to check a setup with no tracker attached.

Prints where it listens and every command it receives, until Ctrl-C or ``--seconds``.
"""

from __future__ import annotations

import argparse
import sys
import time

from gazefusion.fusion.errors import ConfigError
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.trackers.iviewx.simulator import (
    MAX_RATE_HZ,
    MODES,
    VALIDATION_FORMS,
    Faults,
    IViewXSimulator,
    real_world,
)
from gazefusion.trackers.script import ScriptedGaze


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a probability (0 to 1)")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's flags."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 for the network)"
    )
    parser.add_argument("--port", type=int, default=4444, help="UDP command port (default: 4444)")
    parser.add_argument(
        "--data-port",
        type=int,
        default=None,
        help="send data to this port of the client, as a configured iViewX does (default: the port commands come from)",
    )
    parser.add_argument(
        "--rate", type=float, default=500.0, help=f"sample rate, Hz, up to {MAX_RATE_HZ:g} (default: 500)"
    )
    parser.add_argument("--binocular", action="store_true", help="send both eyes (default: right eye)")
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="notes",
        help="notes: the protocol as the notes read it; real-world: what real servers were seen to send "
        "(ET_VLS variants, numbered ET_CAL eyes, trailing sample values, replies from another address, "
        "ET_ACC with the next target, eyes lost by distance, remarks kept verbatim) (default: notes)",
    )
    parser.add_argument(
        "--validation-form",
        choices=tuple(VALIDATION_FORMS),
        default=None,
        help="with --mode real-world, the form of the ET_VLS result lines (default: each in turn)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the scripted gaze (default: 0)")
    parser.add_argument(
        "--screen",
        type=int,
        nargs=2,
        default=(1920, 1080),
        metavar=("W", "H"),
        help="screen size of the scripted gaze, px (default: 1920 1080)",
    )
    parser.add_argument("--loss", type=_probability, default=0.0, help="probability of losing a sample (default: 0)")
    parser.add_argument(
        "--duplicate", type=_probability, default=0.0, help="probability of duplicating a sample (default: 0)"
    )
    parser.add_argument(
        "--reorder", type=_probability, default=0.0, help="probability of swapping a sample with the next (default: 0)"
    )
    parser.add_argument(
        "--junk", type=_probability, default=0.0, help="probability of a junk datagram per sample (default: 0)"
    )
    parser.add_argument(
        "--restart-at", type=float, default=None, metavar="S", help="restart the tracker clock at S s of streaming"
    )
    parser.add_argument(
        "--stall-at", type=float, default=None, metavar="S", help="stop sending at S s of streaming ..."
    )
    parser.add_argument("--stall-for", type=float, default=2.0, metavar="S", help="... for S s (default: 2)")
    parser.add_argument("--lines-per-datagram", type=int, default=1, help="sample lines per datagram (default: 1)")
    parser.add_argument("--echo", action="store_true", help="echo every command back before answering it")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long (default: until Ctrl-C)")


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or --seconds."""
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port number (0-65535)")
    if args.lines_per_datagram < 1:
        raise ConfigError(f"--lines-per-datagram must be at least 1, got {args.lines_per_datagram}")
    faults = Faults(
        loss=args.loss,
        duplicate=args.duplicate,
        reorder=args.reorder,
        junk=args.junk,
        restart_at_s=args.restart_at,
        stall_at_s=args.stall_at,
        stall_s=args.stall_for,
        lines_per_datagram=args.lines_per_datagram,
        echo=args.echo,
        seed=args.seed,
    )
    width, height = args.screen
    script = ScriptedGaze(
        ScreenGeometry(width, height, 531.0 * width / 1920, 299.0 * height / 1080, 650.0), seed=args.seed
    )

    def show(line: str, address: tuple[str, int]) -> None:
        print(f"{address[0]}:{address[1]} -> {line}", flush=True)

    simulator = IViewXSimulator(
        script=script,
        rate_hz=args.rate,
        binocular=args.binocular,
        host=args.host,
        command_port=args.port,
        data_port=args.data_port,
        faults=faults,
        seed=args.seed,
        on_command=show,
        record=False,
        real_world=real_world(args.mode),
        validation_form=args.validation_form,
    )
    with simulator:
        eyes = "binocular" if args.binocular else "monocular (right eye)"
        where = f"port {args.data_port}" if args.data_port is not None else "the port commands come from"
        source = "{}:{}".format(*simulator.reply_address)
        print(
            f"iViewX simulator listening on UDP {args.host}:{simulator.command_port}, {args.rate:g} Hz {eyes}, "
            f"{args.mode} mode; data goes to {where}, from {source}. Ctrl-C stops.",
            flush=True,
        )
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.05 if deadline is None else max(0.0, min(0.05, deadline - time.monotonic())))
        except KeyboardInterrupt:
            pass
        print(
            f"sent {simulator.samples_sent} samples in {simulator.datagrams_sent} datagrams; received {len(simulator.commands)} commands",
            file=sys.stdout,
            flush=True,
        )
    return 0
