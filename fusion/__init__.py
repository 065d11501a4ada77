"""gazefusion.fusion: camera sources, fixations, markers and pose, the fusion core, recording, CLI.

Kept import-light on purpose: submodules pull in OpenCV and friends only when used.
"""
