from gazefusion.fusion.api import Pipeline

with Pipeline("experiment.yaml", camera="http://cam.local/stream", tracker="iviewx://192.168.1.2:4444") as p:
    p.start_recording("sessions/p01")
    p.trial_start("1")  # into events.jsonl and to the tracker
    for look in p.looks(timeout_s=10):  # looks of the next 10 s, as they happen
        if look.marker_id:
            print(look.kind, look.marker_id, look.look.hit.position_m)
    p.trial_end("1")
    p.stop_recording()
