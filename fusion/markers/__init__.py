"""Known planar markers (pictures and ArUco/AprilTag fiducials): the library, detection with
pose in a frame or AOI, and tracking.

A 20 cm poster 60 cm in front of an assumed camera, 5 cm to the right, found with its pose
(``+ 0.0`` prints a rounded -0.0 as 0.0):

>>> import numpy as np
>>> from gazefusion.calibration.intrinsics import CameraIntrinsics
>>> from gazefusion.fusion import synthetic
>>> poster = synthetic.marker_texture(seed=1)
>>> library = MarkerLibrary.from_images([("poster", poster, 0.2)])  # or MarkerLibrary.load("markers.yaml")
>>> camera = CameraIntrinsics.from_fov((640, 480))
>>> frame = synthetic.background_texture(seed=2)
>>> _ = synthetic.render_plane(frame, poster, 0.2, np.zeros(3), np.array([0.05, 0.0, 0.6]), camera.camera_matrix)
>>> [(hit.marker_id, (np.round(hit.position_m, 2) + 0.0).tolist()) for hit in MarkerDetector(library, camera).detect(frame)]
[('poster', [0.05, 0.0, 0.6])]
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
