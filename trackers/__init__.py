"""gazefusion.trackers: the tracker interface, the iViewX client and simulator, mock trackers."""
