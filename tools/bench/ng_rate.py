#!/usr/bin/env python3
"""ng control rate: offer+answer pairs per second with W calls in flight (pipelined), so the
client does not hide the relay's own rate as a one-at-a-time client does. Starts Baton and
rtpengine in turn, each pinned to CPU 0 (the client runs on CPU 1), sets up N calls, prints
one line per relay. Loopback only; processes are stopped by PID.

Usage: ng_rate.py [--calls 4000] [--window 64] [--only baton,rtpengine] [--churn]

--churn deletes each call once its answer is done (offer, answer, delete per call), so ports
are released and drawn again as on a gateway that runs for hours: the steady state, where
Baton reuses parked sockets (media.reuse_sockets).
Run after tools/bench/run-media-bench.sh built Baton and installed rtpengine."""
import argparse, os, re, signal, socket, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import media_bench, ngsetup  # noqa: E402


def run(port, n, window, split=1000, churn=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.settimeout(5)
    addr = ("127.0.0.1", port)
    opts = {"replace": ["origin", "session-connection"], "ICE": "remove", "transport-protocol": "RTP/AVP"}
    pending = {}   # cookie -> (call index, stage)
    started = done = errors = 0
    t0 = time.monotonic()
    t_first = None   # when the first `split` calls were done

    def send(i, stage):
        cid = "rate-%d" % i
        if stage == "delete":
            d = {"command": "delete", "call-id": cid, "from-tag": "f%d" % i}
        elif stage == "offer":
            d = dict(opts, command="offer", **{"call-id": cid, "from-tag": "f%d" % i, "sdp": ngsetup.sdp(40000 + (i % 10000) * 2)})
        else:
            d = dict(opts, command="answer", **{"call-id": cid, "from-tag": "f%d" % i, "to-tag": "t%d" % i,
                                                 "sdp": ngsetup.sdp(50000 + (i % 7000) * 2)})
        cookie = b"%s%d" % (stage[0].encode(), i)
        pending[cookie] = (i, stage)
        s.sendto(cookie + b" " + ngsetup.benc(d), addr)

    while done + errors < n:
        while started < n and len(pending) < window:
            send(started, "offer"); started += 1
        try:
            data, _ = s.recvfrom(65536)
        except socket.timeout:
            raise SystemExit("no reply for 5 s with %d in flight" % len(pending))
        cookie, _, body = data.partition(b" ")
        if cookie not in pending: continue
        i, stage = pending.pop(cookie)
        reply = ngsetup.bdec(body)[0]
        if reply.get("result") != b"ok":
            errors += 1
            if errors <= 3: print("error (%s of call %d): %s" % (stage, i, reply.get("error-reason")), file=sys.stderr)
            continue
        if stage == "offer": send(i, "answer")
        elif stage == "answer" and churn: send(i, "delete")
        else:
            done += 1
            if done == split: t_first = time.monotonic()
    dt = time.monotonic() - t0
    return done, errors, dt, (t_first - t0 if t_first else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=4000)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--only", default="baton,rtpengine")
    ap.add_argument("--churn", action="store_true", help="delete each call after its answer")
    a = ap.parse_args()
    os.makedirs(media_bench.OUT, exist_ok=True)
    print("machine: %s, %d CPUs; relay on CPU 0, client on CPU 1; %d calls, %d in flight%s" %
          (os.uname().release, os.cpu_count(), a.calls, a.window, ", each deleted after its answer" if a.churn else ""))
    print("| relay | calls | ok | errors | seconds | offer+answer per s | first 1000 per s | after 1000 per s | relay CPU s |")
    print("|---|---|---|---|---|---|---|---|---|")
    os.sched_setaffinity(0, {1})
    for relay in a.only.split(","):
        log = open(os.path.join(media_bench.OUT, "ngrate-%s.log" % relay), "w")
        # rtpengine keeps a deleted call (and its ports) for --delete-delay, 30 s by default:
        # with churn it runs out of ports within seconds unless it frees them at once as Baton does.
        extra = ["--delete-delay=0"] if a.churn and relay == "rtpengine" else []
        p = media_bench.start(relay, 22223, log, extra)
        try:
            c0 = media_bench.cpu_seconds(p.pid)
            done, errors, dt, t1 = run(22223, a.calls, a.window, churn=a.churn)
            cpu = media_bench.cpu_seconds(p.pid) - c0
            first = "%.0f" % (1000 / t1) if t1 else "-"
            after = "%.0f" % ((done - 1000) / (dt - t1)) if t1 and done > 1000 and dt > t1 else "-"
            print("| %s | %d | %d | %d | %.2f | %.0f | %s | %s | %.2f |" % (relay, a.calls, done, errors, dt, done / dt, first, after, cpu),
                  flush=True)
        finally:
            p.send_signal(signal.SIGTERM)
            try: p.wait(timeout=15)
            except subprocess.TimeoutExpired: p.kill()


if __name__ == "__main__":
    main()
