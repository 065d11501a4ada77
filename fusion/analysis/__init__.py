"""Gaze on the marker: mapping onto marker pictures, AOIs, AOI metrics, heatmaps, scanpaths.

Pure and GUI-free: the functions here take points, hits, tables and pictures and return
numbers, tables and pictures; the session, the command line and the windows call them.
"""
