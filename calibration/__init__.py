"""gazefusion.calibration: camera intrinsics and the tracker-to-camera mapping."""
