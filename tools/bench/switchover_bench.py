#!/usr/bin/env python3
"""Switchover benchmark: one call from F (sipp UAC) through Baton, moved N times in `now`
mode between two sipp UAS devices A and B (A -> B -> A ...) through the HTTP API.
Reports the time from the API request to the splice (p50/p99/max) and, from a capture of
what F receives, the gap at each splice, sequence breaks and SSRCs.
Loopback only; every process is bounded in time and stopped by PID.

Usage: switchover_bench.py [--switchovers 100] [--interval 0.25]
Run after tools/bench/run-media-bench.sh (or `swift build -c release`) built Baton."""
import argparse, json, os, shutil, signal, struct, subprocess, sys, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "out", "switchover")
FIX = os.path.join(ROOT, "Tests", "Interop", "fixtures")
SIP, HTTP, F_SIP, F_RTP, A_SIP, A_RTP, B_SIP, B_RTP = 27060, 27080, 27090, 37000, 27071, 37010, 27072, 37020


def http(method, path, body=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (HTTP, path), method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def pctl(xs, p):
    if not xs: return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def rtp_to(capture, port):
    """(time, ssrc, seq, marker) of every RTP packet to `port` in a pcap (Ethernet or cooked)."""
    d = open(capture, "rb").read()
    link = struct.unpack("<I", d[20:24])[0]
    i, out = 24, []
    while i + 16 <= len(d):
        sec, usec, cap, _ = struct.unpack("<IIII", d[i:i + 16])
        frame = d[i + 16:i + 16 + cap]
        i += 16 + cap
        ip = frame[16:] if link == 113 else frame[14:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17: continue
        udp = ip[(ip[0] & 15) * 4:]
        if struct.unpack("!H", udp[2:4])[0] != port: continue
        rtp = udp[8:]
        if len(rtp) < 12 or rtp[0] >> 6 != 2: continue
        out.append((sec + usec / 1e6, struct.unpack("!I", rtp[8:12])[0], struct.unpack("!H", rtp[2:4])[0], rtp[1] >> 7))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--switchovers", type=int, default=100)
    ap.add_argument("--interval", type=float, default=0.25, help="seconds between switchovers")
    a = ap.parse_args()
    for tool in ["sipp", "tcpdump"]:
        if not shutil.which(tool): raise SystemExit("%s missing: run tools/install-deps.sh --test" % tool)
    baton_bin = os.path.join(ROOT, ".build", "release", "baton")
    if not os.path.exists(baton_bin): raise SystemExit("build Baton first: swift build -c release --product baton")
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    seconds = int(a.switchovers * (a.interval + 0.1)) + 10
    packets = seconds * 50 + 200
    mk = os.path.join(ROOT, "tools", "make-rtp-pcap.py")
    subprocess.check_call([sys.executable, mk, os.path.join(OUT, "far.pcap"), str(packets), "0x0F0F0F0F"])
    subprocess.check_call([sys.executable, mk, os.path.join(OUT, "dev.pcap"), str(packets), "0x11111111"])
    uac = open(os.path.join(FIX, "uac-rtp.xml")).read().replace("rtp-100.pcap", "far.pcap") \
        .replace('<pause milliseconds="3000"/>', '<pause milliseconds="%d"/>' % (seconds * 1000))
    open(os.path.join(OUT, "far.xml"), "w").write(uac)
    open(os.path.join(OUT, "dev.xml"), "w").write(open(os.path.join(FIX, "uas-rtp.xml")).read().replace("rtp-100.pcap", "dev.pcap"))

    procs = []
    def spawn(cmd, log):
        p = subprocess.Popen(cmd, cwd=OUT, stdout=open(os.path.join(OUT, log), "w"), stderr=subprocess.STDOUT)
        procs.append(p)
        return p
    try:
        baton = spawn([baton_bin, "serve", "--config", "/dev/null", "--sip-port", str(SIP), "--http-port", str(HTTP),
                       "--ng-enabled", "false", "--media-port-min", "30000", "--media-port-max", "30999",
                       "--store-path", os.path.join(OUT, "baton.sqlite"), "--log-level", "warning",
                       "--route", "^b$=127.0.0.1:%d" % B_SIP, "--route", ".=127.0.0.1:%d" % A_SIP], "baton.log")
        end = time.time() + 20
        while time.time() < end:
            try:
                if http("GET", "/healthz")[0] == 200: break
            except Exception: time.sleep(0.1)
        dump = spawn(["tcpdump", "-i", "lo", "-n", "-U", "-w", os.path.join(OUT, "f.pcap"), "udp and dst port %d" % F_RTP], "tcpdump.log")
        time.sleep(1)
        half = a.switchovers // 2 + 2
        for sip, rtp, log in [(A_SIP, A_RTP, "a.log"), (B_SIP, B_RTP, "b.log")]:
            spawn(["sipp", "-sf", "dev.xml", "-i", "127.0.0.1", "-p", str(sip), "-mi", "127.0.0.1", "-mp", str(rtp),
                   "-m", str(half), "-nostdin", "-timeout", "%ds" % (seconds + 30)], log)
        time.sleep(0.3)
        far = spawn(["sipp", "-sf", "far.xml", "-i", "127.0.0.1", "-p", str(F_SIP), "-mi", "127.0.0.1", "-mp", str(F_RTP),
                     "127.0.0.1:%d" % SIP, "-s", "a", "-m", "1", "-nostdin", "-timeout", "%ds" % (seconds + 30)], "far.log")
        call = None
        end = time.time() + 10
        while call is None and time.time() < end:
            act = http("GET", "/calls")[1]["active"]
            call = next((c["id"] for c in act if c["state"] == "answered"), None)
            time.sleep(0.05)
        if call is None: raise SystemExit("the call was not answered (see %s)" % OUT)
        time.sleep(0.5)
        to_splice, failed = [], []
        for i in range(a.switchovers):
            target = "b" if i % 2 == 0 else "a"
            t0 = time.time()
            code, op = http("POST", "/calls/%s/switchover" % call, {"target": target, "mode": "now"})
            if code != 202:
                failed.append("http %d %s" % (code, op)); time.sleep(a.interval); continue
            end = time.time() + 5
            while time.time() < end:
                _, op = http("GET", "/switchovers/%s" % op["id"])
                if op["state"] in ("completed", "failed"): break
                time.sleep(0.005)
            if op["state"] != "completed":
                failed.append(op.get("reason")); time.sleep(a.interval); continue
            splice = next(e["splice"] for e in op["events"] if e["kind"] == "spliced")
            to_splice.append((splice["time"] - t0) * 1000)
            time.sleep(a.interval)
        # Let the call end on its own (F's BYE), then read the capture.
        far.wait(timeout=seconds + 40)
        time.sleep(0.5)
        dump.send_signal(signal.SIGINT)
        dump.wait(timeout=5)
        pk = rtp_to(os.path.join(OUT, "f.pcap"), F_RTP)
        breaks = sum(1 for k in range(1, len(pk)) if pk[k][2] != (pk[k - 1][2] + 1) & 0xFFFF)
        gaps_all = [(pk[k][0] - pk[k - 1][0]) * 1000 for k in range(1, len(pk))]
        gaps_splice = [(pk[k][0] - pk[k - 1][0]) * 1000 for k in range(1, len(pk)) if pk[k][3]]
        print("machine: %s, %d CPUs; Baton release, default relay threads; %d switchovers in now mode, %.2f s apart"
              % (os.uname().release, os.cpu_count(), a.switchovers, a.interval))
        print("| switchovers | completed | failed | request->splice p50 ms | p99 ms | max ms | F gap at splice p50 ms | p99 ms | max ms | F largest gap ms | seq breaks | SSRCs | F packets |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        print("| %d | %d | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %d | %d |" % (
            a.switchovers, len(to_splice), len(failed), pctl(to_splice, 50), pctl(to_splice, 99), max(to_splice or [0]),
            pctl(gaps_splice, 50), pctl(gaps_splice, 99), max(gaps_splice or [0]), max(gaps_all or [0]), breaks,
            len(set(p[1] for p in pk)), len(pk)))
        if failed: print("failures:", failed[:5])
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try: p.wait(timeout=10)
                except subprocess.TimeoutExpired: p.kill()


if __name__ == "__main__":
    main()
