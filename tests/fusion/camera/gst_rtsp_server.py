"""GStreamer's RTSP server (gst-rtsp-server) serving a live test pattern: a real RTSP camera.

Run by Debian's ``/usr/bin/python3`` (python3-gi and gir1.2-gst-rtsp-server-1.0 from Debian's
packages; the project's virtualenv has no gi): ``python3 gst_rtsp_server.py PORT [h264|jpeg]``.
Prints ``ready`` once it listens on 127.0.0.1:PORT, path ``/stream``.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

ENCODERS = {
    "h264": "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! rtph264pay name=pay0 pt=96",
    "jpeg": "jpegenc quality=80 ! rtpjpegpay name=pay0 pt=26",
}


def main() -> None:
    port, codec = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "h264"
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 ! "
        f"{ENCODERS[codec]} )"
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory("/stream", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
