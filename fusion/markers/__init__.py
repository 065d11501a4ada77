"""Known planar markers (pictures and ArUco/AprilTag fiducials): the library, detection with
pose in a frame or AOI, and tracking.

>>> library = MarkerLibrary.load("markers.yaml", config.markers)          # doctest: +SKIP
>>> detector = MarkerDetector(library, intrinsics, config.markers)        # doctest: +SKIP
>>> hits = detector.detect(frame.image, roi=(x, y, w, h), gaze_xy=(gx, gy))  # doctest: +SKIP
"""

from gazefusion.fusion.markers.detector import HOMOGRAPHY_METHODS, DetectorTuning, MarkerDetector
from gazefusion.fusion.markers.fiducials import draw_fiducial
from gazefusion.fusion.markers.library import Fiducial, Marker, MarkerAoi, MarkerLibrary
from gazefusion.fusion.markers.pose import PlanarPose, estimate_planar_pose
from gazefusion.fusion.markers.tracker import MarkerTracker

__all__ = [
    "HOMOGRAPHY_METHODS",
    "DetectorTuning",
    "Fiducial",
    "Marker",
    "MarkerAoi",
    "MarkerDetector",
    "MarkerLibrary",
    "MarkerTracker",
    "PlanarPose",
    "draw_fiducial",
    "estimate_planar_pose",
]
