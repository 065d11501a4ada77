"""Benchmark of gaze on markers and AOI metrics against the demo's scripted eye.

Records a demo session (the scripted eye visits the five markers, looks away between some,
blinks now and then), computes ``gazefusion metrics`` on it and sets the figures beside the
truth the demo wrote (fixations_truth.tsv):

- per marker: fixation count, dwell (total fixation duration) and time to first fixation,
  true and measured;
- per fixation on a marker: how far its mapped mean position on the printed marker lies
  from where the tracked eye really pointed, mm, beside the tracker's noise (0.03 deg RMS
  per axis) projected onto the marker at that fixation;
- the cost: CPU time of ``gazefusion metrics`` (tables, AOIs, pictures) against the peer,
  CPU time of a fast replay of the same session (which writes the same gaze tables).

Usage::

    nice python bench/bench_analysis.py [--seconds 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    """Run the demo, the metrics, the comparison; print the figures."""
    from gazefusion.fusion.analyse import load_pictures, write_metrics
    from gazefusion.fusion.demo.check import compare_with_truth
    from gazefusion.fusion.demo.run import run_demo
    from gazefusion.fusion.replay import replay_session

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the demo session (default: 60)")
    parser.add_argument("--seed", type=int, default=0, help="the scripted eye's seed (default: 0)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-analysis-") as tmp:
        folder = Path(tmp)
        demo = run_demo(folder / "session", seconds=args.seconds, headless=True, seed=args.seed, echo=None)
        cpu = _cpu_s()
        result = write_metrics([demo.session_dir], folder / "metrics")
        metrics_cpu = _cpu_s() - cpu
        cpu = _cpu_s()
        replay_session(demo.session_dir, folder / "replay", workers=1)
        replay_cpu = _cpu_s() - cpu
        pictures = load_pictures(demo.session_dir / "scene" / "markers.yaml")
        comparison = compare_with_truth(demo.session_dir, result.metrics, pictures.image_sizes)
    print(f"demo session: {args.seconds:g} s, seed {args.seed}")
    print(comparison.format())
    fixations = comparison.fixations
    within = (fixations["error_mm"] <= fixations["noise_mm"]).mean()
    print(f"fixations within the projected noise (1 sigma): {100 * within:.0f} %")
    markers = comparison.markers
    print(
        f"counts exact: {bool((markers['count'] == markers['true_count']).all())}; "
        f"largest dwell error {markers['dwell_error_percent'].abs().max():.2f} %; "
        f"largest ttff error {1000 * markers['ttff_error_s'].abs().max():.1f} ms"
    )
    print(
        f"cost: gazefusion metrics {metrics_cpu:.2f} s CPU ({len(result.pictures)} pictures) against a replay of the "
        f"session {replay_cpu:.2f} s CPU: ratio {metrics_cpu / replay_cpu:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
