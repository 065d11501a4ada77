"""The demo: a synthetic scene served as an MJPEG camera, a scripted iViewX eye, the whole pipeline."""
