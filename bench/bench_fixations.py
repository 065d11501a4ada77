"""Fixation detectors against the Lund 2013 human coders, and their speed.

Usage: ``python bench/bench_fixations.py [--data DIR] [--no-loto]`` (DIR default:
``../shared/data/lund2013`` relative to the repository root).

For every registered method (the default marked) it prints, with the default parameters:
pooled binary sample-level Cohen's kappa against coder MN and coder RA (all samples of all
trials concatenated; "fixation" = label 1 against everything else), the number of fixations
and their mean duration beside each coder's, and the leave-one-trial-out kappas (parameters
of a small grid tuned on six trials, the seventh scored, predictions pooled). Then the
throughput in samples per CPU second against pymovements' I-DT on the same samples (ratio printed), the
real-time factor at 1250 Hz, and the online delay: start event time minus the coder's onset
of the fixation it belongs to (median and 95th percentile).
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazefusion.fusion.fixations import DEFAULT_METHOD, DETECTORS, make_detector
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.types import Fixation, FixationEvent

REPO_ROOT = Path(__file__).resolve().parents[1]
CODERS = ("mn", "ra")
TARGETS = {"mn": 0.80, "ra": 0.75}
RATE_HZ = 1250.0

# Parameters tuned in the leave-one-trial-out check, per method (the defaults are in the grid).
TUNING_GRIDS: dict[str, dict[str, tuple[float, ...]]] = {
    "ivt": {
        "noise_sd_factor": (3.0, 4.0, 6.0),
        "min_threshold_deg_s": (20.0, 25.0, 30.0),
        "onset_trim_s": (0.0, 0.004, 0.008),
        "velocity_window_s": (0.01, 0.014),
        "max_angle_deg": (0.25, 0.5),
    },
    "idt": {
        "dispersion_deg": (0.5, 0.75, 1.0, 1.5),
        "min_duration_s": (0.05, 0.1, 0.15),
    },
}


# Non-default settings shown beside the methods (name, method, params), without LOTO.
VARIANTS: tuple[tuple[str, str, dict[str, float]], ...] = (
    ("ivt-fixed", "ivt", {"noise_sd_factor": 0.0}),  # the Tobii filter's fixed 30 deg/s
)


@dataclass
class Trial:
    """One labelled trial."""

    name: str
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    labels: dict[str, np.ndarray]
    geometry: ScreenGeometry


def default_data_dir() -> Path:
    """../shared/data/lund2013 beside the repository (or beside its worktree folder)."""
    for root in (REPO_ROOT.parent, REPO_ROOT.parent.parent):
        candidate = root / "shared" / "data" / "lund2013"
        if candidate.is_dir():
            return candidate
    return REPO_ROOT.parent / "shared" / "data" / "lund2013"


def load_trials(data_dir: Path) -> list[Trial]:
    """Every ``*.tsv`` with its JSON sidecar in `data_dir`."""
    trials = []
    for path in sorted(data_dir.glob("*.tsv")):
        table = np.genfromtxt(path, names=True, delimiter="\t")
        labels = {coder: table[f"label_{coder}"].astype(int) for coder in CODERS}
        trials.append(
            Trial(
                path.stem,
                table["t"],
                table["x"],
                table["y"],
                labels,
                ScreenGeometry.from_sidecar(path.with_suffix(".json")),
            )
        )
    if not trials:
        sys.exit(f"no trials in {data_dir}")
    return trials


def detect(
    trial: Trial, method: str, params: dict[str, float] | None = None
) -> tuple[list[Fixation], list[FixationEvent]]:
    """Push the trial sample by sample; returns the final fixations and the start events."""
    detector = make_detector(method, trial.geometry, params)
    fixations: list[Fixation] = []
    starts: list[FixationEvent] = []
    push = detector.push
    for t, x, y in zip(trial.t.tolist(), trial.x.tolist(), trial.y.tolist()):
        for event in push(t, x, y, True):
            if event.kind == "end":
                fixations.append(event.fixation)
            elif event.kind == "start":
                starts.append(event)
    fixations += [event.fixation for event in detector.flush() if event.kind == "end"]
    return fixations, starts


def sample_labels(trial: Trial, fixations: list[Fixation]) -> np.ndarray:
    """True for the samples inside one of the fixations."""
    inside = np.zeros(len(trial.t), dtype=bool)
    for fixation in fixations:
        first = np.searchsorted(trial.t, fixation.onset - 1e-9)
        last = np.searchsorted(trial.t, fixation.offset + 1e-9)
        inside[first:last] = True
    return inside


def confusion(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(true pos, false pos, false neg, true neg) counts."""
    return np.array(
        [
            np.sum(predicted & truth),
            np.sum(predicted & ~truth),
            np.sum(~predicted & truth),
            np.sum(~predicted & ~truth),
        ],
        dtype=float,
    )


def kappa(counts: np.ndarray) -> float:
    """Cohen's kappa of a binary confusion (tp, fp, fn, tn)."""
    tp, fp, fn, tn = counts
    n = counts.sum()
    observed = (tp + tn) / n
    expected = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
    return (observed - expected) / (1.0 - expected) if expected < 1.0 else math.nan


def coder_fixations(trial: Trial, coder: str) -> list[tuple[float, float, int]]:
    """(onset, offset, samples) of each run of label 1."""
    fixation = trial.labels[coder] == 1
    edges = np.flatnonzero(np.diff(np.concatenate(([0], fixation.astype(np.int8), [0]))))
    return [(float(trial.t[a]), float(trial.t[b - 1]), int(b - a)) for a, b in zip(edges[::2], edges[1::2])]


@dataclass
class Score:
    """Figures of one method on all trials."""

    kappa: dict[str, float]
    confusions: list[dict[str, np.ndarray]]  # per trial
    n_fixations: int
    mean_duration_s: float
    starts: list[list[FixationEvent]]
    fixations: list[list[Fixation]]


def score(trials: list[Trial], method: str, params: dict[str, float] | None = None) -> Score:
    """Run `method` on every trial and score it against both coders."""
    confusions, all_starts, all_fixations = [], [], []
    for trial in trials:
        fixations, starts = detect(trial, method, params)
        predicted = sample_labels(trial, fixations)
        confusions.append({coder: confusion(predicted, trial.labels[coder] == 1) for coder in CODERS})
        all_starts.append(starts)
        all_fixations.append(fixations)
    pooled = {coder: kappa(sum(c[coder] for c in confusions)) for coder in CODERS}
    durations = [f.duration for fixations in all_fixations for f in fixations]
    return Score(
        pooled,
        confusions,
        len(durations),
        statistics.fmean(durations) if durations else math.nan,
        all_starts,
        all_fixations,
    )


def leave_one_trial_out(
    trials: list[Trial], method: str
) -> tuple[dict[str, float], list[dict[str, float]], list[dict[str, float]]]:
    """Tune the method's grid on six trials (best mean kappa of both coders), score the seventh.

    Returns the pooled kappa of the held-out predictions per coder, the parameters chosen in
    each fold and each held-out trial's own kappa per coder.
    """
    grid = TUNING_GRIDS.get(method, {})
    names = list(grid)
    candidates = [dict(zip(names, values)) for values in itertools.product(*grid.values())] or [{}]
    per_candidate = [score(trials, method, params).confusions for params in candidates]
    held_out = {coder: np.zeros(4) for coder in CODERS}
    chosen, per_trial = [], []
    for k in range(len(trials)):

        def training_kappa(index: int, k: int = k) -> float:
            confusions = per_candidate[index]
            return statistics.fmean(
                kappa(sum(c[coder] for j, c in enumerate(confusions) if j != k)) for coder in CODERS
            )

        best = max(range(len(candidates)), key=training_kappa)
        chosen.append(candidates[best])
        for coder in CODERS:
            held_out[coder] += per_candidate[best][k][coder]
        per_trial.append({coder: kappa(per_candidate[best][k][coder]) for coder in CODERS})
    return {coder: kappa(held_out[coder]) for coder in CODERS}, chosen, per_trial


def online_delays_s(trials: list[Trial], result: Score, coder: str = "mn") -> list[float]:
    """Start event time minus the onset of the coder's fixation it falls in, s."""
    delays = []
    for trial, starts in zip(trials, result.starts):
        onsets = coder_fixations(trial, coder)
        for event in starts:
            onset_t = event.fixation.onset
            for first, last, _ in onsets:
                if first - 0.05 <= onset_t <= last:
                    delays.append(event.t - first)
                    break
    return delays


def throughput(trials: list[Trial], method: str, repeats: int = 5) -> float:
    """Samples per CPU second of push() over every trial (best of `repeats`).

    CPU time, not wall time: on a shared machine the wall clock counts other processes too.
    """
    n = sum(len(trial.t) for trial in trials)
    best = math.inf
    for _ in range(repeats):
        start = time.process_time()
        for trial in trials:
            detect(trial, method)
        best = min(best, time.process_time() - start)
    return n / best


def pymovements_throughput(trials: list[Trial], repeats: int = 5) -> float:
    """Samples per CPU second of pymovements' I-DT (1 deg, 100 ms) on the same samples, in degrees."""
    from pymovements.events import idt

    inputs = []
    for trial in trials:
        ax, ay = trial.geometry.to_degrees(trial.x, trial.y)
        # pymovements wants constant intervals: sample-based time, 100 ms = 50 samples at 500 Hz.
        inputs.append((np.column_stack([ax, ay]), round(0.1 / float(np.median(np.diff(trial.t))))))
    n = sum(len(trial.t) for trial in trials)
    best = math.inf
    for _ in range(repeats):
        start = time.process_time()
        for positions, min_samples in inputs:
            idt(positions, minimum_duration=min_samples, dispersion_threshold=1.0)
        best = min(best, time.process_time() - start)
    return n / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="folder of the Lund 2013 trials")
    parser.add_argument("--no-loto", action="store_true", help="skip the leave-one-trial-out tuning")
    args = parser.parse_args(argv)
    data_dir = args.data or default_data_dir()
    trials = load_trials(data_dir)
    n_samples = sum(len(trial.t) for trial in trials)
    print(f"Lund 2013: {len(trials)} trials, {n_samples} samples, from {data_dir}")
    coder_stats = {}
    for coder in CODERS:
        runs = [run for trial in trials for run in coder_fixations(trial, coder)]
        interval = float(np.median(np.diff(trials[0].t)))
        coder_stats[coder] = (len(runs), statistics.fmean(n * interval for _, _, n in runs))
        print(f"coder {coder.upper()}: {coder_stats[coder][0]} fixations, mean {coder_stats[coder][1] * 1000:.0f} ms")
    mn_vs_ra = kappa(sum(confusion(t.labels["mn"] == 1, t.labels["ra"] == 1) for t in trials))
    print(f"coder MN vs coder RA: kappa {mn_vs_ra:.3f}")
    print()
    header = (
        f"{'method':<10} {'kappa MN':>8} {'kappa RA':>8} {'LOTO MN':>8} {'LOTO RA':>8} "
        f"{'n':>5} {'n/MN':>6} {'n/RA':>6} {'dur ms':>7} {'dur/MN':>7} {'dur/RA':>7}"
    )
    print(header)
    results, lotos = {}, {}
    for method in DETECTORS:
        result = score(trials, method)
        results[method] = result
        loto = leave_one_trial_out(trials, method) if not args.no_loto else ({c: math.nan for c in CODERS}, [], [])
        lotos[method] = loto
        name = method + (" *" if method == DEFAULT_METHOD else "")
        ratios_n = [result.n_fixations / coder_stats[c][0] for c in CODERS]
        ratios_d = [result.mean_duration_s / coder_stats[c][1] for c in CODERS]
        print(
            f"{name:<10} {result.kappa['mn']:8.3f} {result.kappa['ra']:8.3f} {loto[0]['mn']:8.3f} {loto[0]['ra']:8.3f} "
            f"{result.n_fixations:5d} {ratios_n[0]:6.2f} {ratios_n[1]:6.2f} {result.mean_duration_s * 1000:7.0f} "
            f"{ratios_d[0]:7.2f} {ratios_d[1]:7.2f}"
        )
        if loto[1]:
            distinct = {tuple(sorted(p.items())) for p in loto[1]}
            print(
                f"         LOTO chose {len(distinct)} distinct parameter set(s): "
                + "; ".join(", ".join(f"{k}={v:g}" for k, v in p) for p in sorted(distinct))
            )
    for name, method, params in VARIANTS:
        result = score(trials, method, params)
        ratios_n = [result.n_fixations / coder_stats[c][0] for c in CODERS]
        ratios_d = [result.mean_duration_s / coder_stats[c][1] for c in CODERS]
        print(
            f"{name:<10} {result.kappa['mn']:8.3f} {result.kappa['ra']:8.3f} {'':>8} {'':>8} "
            f"{result.n_fixations:5d} {ratios_n[0]:6.2f} {ratios_n[1]:6.2f} {result.mean_duration_s * 1000:7.0f} "
            f"{ratios_d[0]:7.2f} {ratios_d[1]:7.2f}   ({', '.join(f'{k}={v:g}' for k, v in params.items())})"
        )
    print("* default method")
    default_loto = lotos[DEFAULT_METHOD][2]
    print(f"per trial, {DEFAULT_METHOD} (defaults / held out in LOTO), kappa MN and RA:")
    for k, trial in enumerate(trials):
        own = {c: kappa(results[DEFAULT_METHOD].confusions[k][c]) for c in CODERS}
        held = default_loto[k] if default_loto else {c: math.nan for c in CODERS}
        print(f"  {trial.name:<22} {own['mn']:.3f} / {held['mn']:.3f}   {own['ra']:.3f} / {held['ra']:.3f}")
    default = results[DEFAULT_METHOD]
    checks = [
        f"kappa {c.upper()} {default.kappa[c]:.3f} >= {TARGETS[c]:.2f}: {'ok' if default.kappa[c] >= TARGETS[c] else 'MISSED'}"
        for c in CODERS
    ]
    for c in CODERS:
        ratio_n = default.n_fixations / coder_stats[c][0]
        ratio_d = default.mean_duration_s / coder_stats[c][1]
        checks.append(f"n/{c.upper()} {ratio_n:.2f} within 15%: {'ok' if abs(ratio_n - 1) <= 0.15 else 'MISSED'}")
        checks.append(
            f"duration/{c.upper()} {ratio_d:.2f} within 20%: {'ok' if abs(ratio_d - 1) <= 0.20 else 'MISSED'}"
        )
    print("targets (default method):", "; ".join(checks))
    print()
    peer = pymovements_throughput(trials)
    print(f"pymovements I-DT (1 deg, 100 ms, batch): {peer:,.0f} samples/s (CPU time)")
    for method in DETECTORS:
        rate = throughput(trials, method)
        factor = rate / RATE_HZ
        print(
            f"{method:<4} push(): {rate:,.0f} samples/s = {rate / peer:.2f} x pymovements I-DT, "
            f"{factor:.0f} x real time at {RATE_HZ:.0f} Hz ({'ok' if factor >= 100 else 'MISSED'} >= 100)"
        )
    print()
    for method in DETECTORS:
        delays = online_delays_s(trials, results[method])
        if delays:
            ms = np.array(delays) * 1000
            print(
                f"{method:<4} online delay (start event - coder MN onset), {len(ms)} fixations: "
                f"median {np.median(ms):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
