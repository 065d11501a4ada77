"""Scoring helpers for the fixation benchmark on the Lund 2013 hand-labelled trials."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazefusion.fusion.fixations import make_detector
from gazefusion.fusion.geometry import ScreenGeometry


@dataclass
class Trial:
    name: str
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    mn: np.ndarray
    ra: np.ndarray
    geometry: ScreenGeometry


def load_trials(data_dir: Path) -> list[Trial]:
    trials = []
    for path in sorted(data_dir.glob("*.tsv")):
        d = np.genfromtxt(path, names=True, delimiter="\t")
        trials.append(Trial(path.stem, d["t"], d["x"], d["y"], d["label_mn"].astype(int), d["label_ra"].astype(int),
                            ScreenGeometry.from_sidecar(path.with_suffix(".json"))))
    return trials


def detect(trial: Trial, method: str, params: dict | None = None):
    """Run the detector sample by sample; returns (fixations, start events) as lists."""
    detector = make_detector(method, trial.geometry, params)
    ends, starts = [], []
    push = detector.push
    for t, x, y in zip(trial.t.tolist(), trial.x.tolist(), trial.y.tolist()):
        for event in push(t, x, y, True):
            if event.kind == "end":
                ends.append(event.fixation)
            elif event.kind == "start":
                starts.append(event)
    for event in detector.flush():
        if event.kind == "end":
            ends.append(event.fixation)
    return ends, starts


def label(trial: Trial, fixations) -> np.ndarray:
    out = np.zeros(len(trial.t), dtype=bool)
    for f in fixations:
        i0 = np.searchsorted(trial.t, f.onset - 1e-9)
        i1 = np.searchsorted(trial.t, f.offset + 1e-9)
        out[i0:i1] = True
    return out


def confusion(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return np.array([np.sum(pred & truth), np.sum(pred & ~truth), np.sum(~pred & truth), np.sum(~pred & ~truth)], float)


def kappa(c: np.ndarray) -> float:
    tp, fp, fn, tn = c
    n = c.sum()
    po = (tp + tn) / n
    pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
    return (po - pe) / (1 - pe) if pe < 1 else math.nan


def coder_events(trial: Trial, labels: np.ndarray) -> list[tuple[float, float]]:
    """Fixation intervals (onset, offset) of a coder."""
    fix = labels == 1
    out = []
    i, n = 0, len(fix)
    while i < n:
        if fix[i]:
            j = i
            while j < n and fix[j]:
                j += 1
            out.append((trial.t[i], trial.t[j - 1]))
            i = j
        else:
            i += 1
    return out
