#!/usr/bin/env python3
"""ng control rate: offer+answer pairs per second with W calls in flight (pipelined), so the
client does not hide the relay's own rate as a one-at-a-time client does. Starts Baton and
rtpengine in turn, each pinned to CPU 0 (the client runs on CPU 1), sets up N calls, prints
one line per relay. Loopback only; processes are stopped by PID.

Usage: ng_rate.py [--calls 4000] [--window 64] [--only baton,rtpengine] [--churn]

--churn deletes each call once its answer is done (offer, answer, delete per call), so ports
are released and drawn again as on a gateway that runs for hours: the steady state, where
Baton reuses parked sockets (media.reuse_sockets).
The client's own CPU is printed; client_limited=yes when it was busy over 85 % of the run
(then the rate measures the client as much as the relay).
Run after tools/bench/run-media-bench.sh built Baton and installed rtpengine."""
import argparse, os, resource, signal, socket, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import media_bench, ngsetup  # noqa: E402


def encoder():
    """Request builders. Each message is encoded once per call through ngsetup.benc on a
    template whose variable values have fixed-width placeholders, then the placeholders are
    substituted: the same bencode bytes as a full encode, at a fraction of the client's CPU
    (with --churn the client was the bottleneck: 93 % of a core, ~445 us per call)."""
    opts = {"replace": ["origin", "session-connection"], "ICE": "remove", "transport-protocol": "RTP/AVP"}

    def offer(cid, ftag, port): return dict(opts, command="offer", **{"call-id": cid, "from-tag": ftag, "sdp": ngsetup.sdp(port)})

    def answer(cid, ftag, ttag, port):
        return dict(opts, command="answer", **{"call-id": cid, "from-tag": ftag, "to-tag": ttag, "sdp": ngsetup.sdp(port)})

    cid, ftag, ttag = "C" * 12, "F" * 12, "T" * 12
    offer_t, answer_t = ngsetup.benc(offer(cid, ftag, 11111)), ngsetup.benc(answer(cid, ftag, ttag, 22222))
    delete_t = ngsetup.benc({"command": "delete", "call-id": cid, "from-tag": ftag})

    def fill(t, i, port=None):
        # The port first: once the tags are in, their digits could run into a length.
        if port is not None: t = t.replace(b"11111", b"%05d" % port).replace(b"22222", b"%05d" % port)
        return t.replace(cid.encode(), b"rate-%07d" % i).replace(ftag.encode(), b"f-%010d" % i) \
                .replace(ttag.encode(), b"t-%010d" % i)

    offer_port = lambda i: 40000 + (i % 10000) * 2
    answer_port = lambda i: 50000 + (i % 7000) * 2
    build = {"offer": lambda i: fill(offer_t, i, offer_port(i)),
             "answer": lambda i: fill(answer_t, i, answer_port(i)),
             "delete": lambda i: fill(delete_t, i)}
    # The substitution must give exactly what a full encode gives.
    for i in (0, 1111, 4321, 9999, 11111):
        ids = ("rate-%07d" % i, "f-%010d" % i)
        assert build["offer"](i) == ngsetup.benc(offer(*ids, offer_port(i)))
        assert build["answer"](i) == ngsetup.benc(answer(*ids, "t-%010d" % i, answer_port(i)))
        assert build["delete"](i) == ngsetup.benc({"command": "delete", "call-id": ids[0], "from-tag": ids[1]})
    return build


OK = b"6:result2:ok"


def reason(body):
    """error-reason of a failed reply (decoded only on failure)."""
    try: return ngsetup.bdec(body)[0].get("error-reason")
    except Exception: return body[:120]


def run(port, n, window, split=1000, churn=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.settimeout(5)
    addr = ("127.0.0.1", port)
    build = encoder()
    pending = {}   # cookie -> (call index, stage)
    started = done = errors = 0
    t0 = time.monotonic()
    t_first = None   # when the first `split` calls were done

    def send(i, stage):
        cookie = b"%s%d" % (stage[0].encode(), i)
        pending[cookie] = (i, stage)
        s.sendto(cookie + b" " + build[stage](i), addr)

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
        # An ok reply is not decoded (the client's CPU is not the relay's): "result" is a
        # top-level key with a fixed spelling, and no other value of a reply can contain it.
        if OK not in body:
            errors += 1
            if errors <= 3: print("error (%s of call %d): %s" % (stage, i, reason(body)), file=sys.stderr)
            continue
        if stage == "offer": send(i, "answer")
        elif stage == "answer" and churn: send(i, "delete")
        else:
            done += 1
            if done == split: t_first = time.monotonic()
    dt = time.monotonic() - t0
    return done, errors, dt, (t_first - t0 if t_first else None)


def client_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


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
    print("| relay | calls | ok | errors | seconds | offer+answer per s | first 1000 per s | after 1000 per s | relay CPU s | client CPU s | client_limited |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    os.sched_setaffinity(0, {1})
    for relay in a.only.split(","):
        log = open(os.path.join(media_bench.OUT, "ngrate-%s.log" % relay), "w")
        # rtpengine keeps a deleted call (and its ports) for --delete-delay, 30 s by default:
        # with churn it runs out of ports within seconds unless it frees them at once as Baton does.
        extra = ["--delete-delay=0"] if a.churn and relay == "rtpengine" else []
        p = media_bench.start(relay, 22223, log, extra)
        try:
            c0, k0 = media_bench.cpu_seconds(p.pid), client_cpu()
            done, errors, dt, t1 = run(22223, a.calls, a.window, churn=a.churn)
            cpu, kcpu = media_bench.cpu_seconds(p.pid) - c0, client_cpu() - k0
            first = "%.0f" % (1000 / t1) if t1 else "-"
            after = "%.0f" % ((done - 1000) / (dt - t1)) if t1 and done > 1000 and dt > t1 else "-"
            # The client is one Python thread on its own core: when it was busy most of the
            # run, the rate is (partly) the client's, not the relay's.
            limited = "yes" if kcpu > 0.85 * dt else "no"
            print("| %s | %d | %d | %d | %.2f | %.0f | %s | %s | %.2f | %.2f | %s |" %
                  (relay, a.calls, done, errors, dt, done / dt, first, after, cpu, kcpu, limited), flush=True)
        finally:
            p.send_signal(signal.SIGTERM)
            try: p.wait(timeout=15)
            except subprocess.TimeoutExpired: p.kill()


if __name__ == "__main__":
    main()
