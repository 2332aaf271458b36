#!/usr/bin/env python3
"""Switchover benchmark: one call from F through Baton, moved N times in `now` mode between
two devices A and B (A -> B -> A ...) through the HTTP API. All three are baresip
softphones: A and B play out what they receive through their own jitter and audio buffers
and send that play-out back (aubridge), F sends the reference noise (AudioAnalysis) and
records what it decodes (sndfile). Reports

- packet level, from a capture of what F receives: time from the API request to the splice,
  the inter-arrival gap at each splice, sequence breaks, SSRCs;
- audio level, from F's recording aligned with the reference (baton-audio-check): at each
  splice the gap (audio that is not the reference) and the reference audio F never heard,
  p50/p99/max, and breaks away from the splices.

`--priming-ms 0` shows the switchover without priming (the new device's empty play-out
buffer is what F hears first). Loopback only; every process is bounded in time and stopped
by PID.

Usage: switchover_bench.py [--switchovers 100] [--interval 0.25] [--priming-ms 300]
Needs `swift build -c release --product baton --product baton-audio-check`."""
import argparse, json, os, shutil, signal, struct, subprocess, sys, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "out", "switchover")
# baresip listens on its SIP port (UDP, TCP) and the next one (TLS): devices two apart.
SIP, HTTP, F_SIP, F_RTP, A_SIP, A_RTP, B_SIP, B_RTP = 27060, 27080, 27090, 37000, 27074, 37010, 27076, 37030


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


def baresip_profile(name, sip, rtp, source, player, account):
    d = os.path.join(OUT, name)
    os.makedirs(d)
    lines = ["poll_method epoll", "sip_listen 127.0.0.1:%d" % sip, "audio_player " + player, "audio_source " + source,
             "audio_alert aubridge,alert%d" % sip, "audio_srate 8000", "audio_channels 1",
             "rtp_ports %d-%d" % rtp, "module_path /usr/lib/baresip/modules"]
    lines += ["module %s" % m for m in ["g711.so", "aufile.so", "aubridge.so", "sndfile.so"]]
    lines += ["snd_path " + d, "module_app account.so", "module_app menu.so"]
    open(os.path.join(d, "config"), "w").write("\n".join(lines) + "\n")
    open(os.path.join(d, "accounts"), "w").write(account + "\n")
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--switchovers", type=int, default=100)
    ap.add_argument("--interval", type=float, default=0.25, help="seconds between switchovers")
    ap.add_argument("--priming-ms", type=int, default=None, help="switchover.priming_ms (default: Baton's)")
    a = ap.parse_args()
    for tool in ["baresip", "tcpdump"]:
        if not shutil.which(tool): raise SystemExit("%s missing: run tools/install-deps.sh --test" % tool)
    bins = os.path.join(ROOT, ".build", "release")
    baton_bin, check_bin = os.path.join(bins, "baton"), os.path.join(bins, "baton-audio-check")
    if not (os.path.exists(baton_bin) and os.path.exists(check_bin)):
        raise SystemExit("build first: swift build -c release --product baton && swift build -c release --product baton-audio-check")
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    priming = (a.priming_ms if a.priming_ms is not None else 300) / 1000
    seconds = int(a.switchovers * (a.interval + priming + 0.15)) + 10
    ref_seconds = seconds + 20
    ref = os.path.join(OUT, "reference.wav")
    subprocess.check_call([check_bin, "reference", ref, str(ref_seconds)])
    domain = "127.0.0.1:%d" % SIP
    fdir = baresip_profile("F", F_SIP, (F_RTP, F_RTP + 1), "aufile," + ref, "aubridge,nowhere",
                           "<sip:far@%s>;regint=0;audio_codecs=PCMU" % domain)
    devices = [baresip_profile(n, sip, (rtp, rtp + 19), "aubridge,echo%d" % sip, "aubridge,echo%d" % sip,
                               "<sip:%s@%s>;regint=60;answermode=auto;audio_codecs=PCMU" % (n, domain))
               for n, sip, rtp in [("a", A_SIP, A_RTP), ("b", B_SIP, B_RTP)]]

    procs = []
    def spawn(cmd, log):
        p = subprocess.Popen(cmd, cwd=OUT, stdout=open(os.path.join(OUT, log), "w"), stderr=subprocess.STDOUT)
        procs.append(p)
        return p
    try:
        extra = ["--switchover-priming-ms", str(a.priming_ms)] if a.priming_ms is not None else []
        spawn([baton_bin, "serve", "--config", "/dev/null", "--sip-port", str(SIP), "--http-port", str(HTTP),
               "--ng-enabled", "false", "--media-port-min", "30000", "--media-port-max", "30999",
               "--store-path", os.path.join(OUT, "baton.sqlite"), "--log-level", "warning"] + extra, "baton.log")
        end = time.time() + 20
        while time.time() < end:
            try:
                if http("GET", "/healthz")[0] == 200: break
            except Exception: time.sleep(0.1)
        for d, log in zip(devices, ["a.log", "b.log"]):
            spawn(["baresip", "-f", d, "-t", str(seconds + 20)], log)
        dump = spawn(["tcpdump", "-i", "lo", "-n", "-U", "-w", os.path.join(OUT, "f.pcap"), "udp and dst port %d" % F_RTP], "tcpdump.log")
        time.sleep(2)   # registrations, tcpdump
        far = spawn(["baresip", "-f", fdir, "-t", str(seconds), "-e", "/dial sip:a@%s" % domain], "far.log")
        call = None
        end = time.time() + 10
        while call is None and time.time() < end:
            act = http("GET", "/calls")[1]["active"]
            call = next((c["id"] for c in act if c["state"] == "answered"), None)
            time.sleep(0.05)
        if call is None: raise SystemExit("the call was not answered (see %s)" % OUT)
        time.sleep(1.0)
        to_splice, splice_times, primed, failed = [], [], [], []
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
            splice_times.append(splice["time"])
            primed.append(splice.get("primedMillis", 0))
            time.sleep(a.interval)
        # Let the call end on its own (F quits and hangs up), then read the capture.
        far.wait(timeout=seconds + 40)
        time.sleep(0.5)
        dump.send_signal(signal.SIGINT)
        dump.wait(timeout=5)
        pk = rtp_to(os.path.join(OUT, "f.pcap"), F_RTP)
        breaks = sum(1 for k in range(1, len(pk)) if pk[k][2] != (pk[k - 1][2] + 1) & 0xFFFF)
        gaps_all = [(pk[k][0] - pk[k - 1][0]) * 1000 for k in range(1, len(pk))]
        gaps_splice = [(pk[k][0] - pk[k - 1][0]) * 1000 for k in range(1, len(pk)) if pk[k][3]]

        # What F heard: its decoded audio aligned with the reference. F decodes from its first
        # RTP packet on, so a splice at wall time t falls at (t - first packet) in its recording.
        heard = sorted(f for f in os.listdir(fdir) if f.endswith("-dec.wav"))
        if not heard: raise SystemExit("F recorded nothing (see %s)" % OUT)
        rep = json.loads(subprocess.check_output([check_bin, "analyse", os.path.join(fdir, heard[0]), str(ref_seconds)]))
        json.dump(rep, open(os.path.join(OUT, "heard.json"), "w"))
        first = pk[0][0] if pk else 0
        at = [(t - first) * 1000 for t in splice_times]
        br = [t for t in rep["transitions"] if t["gapMillis"] >= 1 or t["missingMillis"] >= 1 or t["repeatedMillis"] >= 1]
        # Each break belongs to the nearest splice if it is within half the distance to the
        # next one (at most 400 ms): F's recording can drift from the wall clock by a frame or
        # two where its jitter buffer dropped a late packet.
        spacing = min([b - a for a, b in zip(at, at[1:])] or [800])
        reach = min(400, spacing / 2)
        near = {k: [] for k in range(len(at))}
        elsewhere = []
        for t in br:
            k = min(range(len(at)), key=lambda j: abs(at[j] - t["atMillis"])) if at else None
            if k is not None and abs(at[k] - t["atMillis"]) <= reach: near[k].append(t)
            else: elsewhere.append(t)
        json.dump([{"atMillis": at[k], "primedMillis": primed[k], "breaks": near[k]} for k in range(len(at))],
                  open(os.path.join(OUT, "splices.json"), "w"), indent=1)
        gap_a = [max([t["gapMillis"] for t in near[k]] or [0]) for k in range(len(at))]
        miss_a = [sum(t["missingMillis"] for t in near[k]) for k in range(len(at))]
        rep_a = [sum(t["repeatedMillis"] for t in near[k]) for k in range(len(at))]

        print("machine: %s, %d CPUs; Baton release, default relay threads; %d switchovers in now mode, %.2f s apart; "
              "priming %s ms; devices baresip (play-out echoed), PCMU"
              % (os.uname().release, os.cpu_count(), a.switchovers, a.interval,
                 a.priming_ms if a.priming_ms is not None else "default (300)"))
        print()
        print("Packets toward F:")
        print("| switchovers | completed | failed | request->splice p50 ms | p99 ms | max ms | primed p50 ms | F gap at splice p50 ms | p99 ms | max ms | F largest gap ms | seq breaks | SSRCs | F packets |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        print("| %d | %d | %d | %.1f | %.1f | %.1f | %.0f | %.1f | %.1f | %.1f | %.1f | %d | %d | %d |" % (
            a.switchovers, len(to_splice), len(failed), pctl(to_splice, 50), pctl(to_splice, 99), max(to_splice or [0]),
            pctl(primed, 50), pctl(gaps_splice, 50), pctl(gaps_splice, 99), max(gaps_splice or [0]), max(gaps_all or [0]),
            breaks, len(set(p[1] for p in pk)), len(pk)))
        print()
        print("Audio F heard (its decoded play-out aligned with the reference):")
        print("| splices | gap p50 ms | p99 ms | max ms | missing p50 ms | p99 ms | max ms | repeated p50 ms | max ms | splices with gap > 20 ms | breaks elsewhere | F heard the reference |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        print("| %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %d | %d | %.0f of %.0f ms |" % (
            len(at), pctl(gap_a, 50), pctl(gap_a, 99), max(gap_a or [0]), pctl(miss_a, 50), pctl(miss_a, 99), max(miss_a or [0]),
            pctl(rep_a, 50), max(rep_a or [0]), sum(1 for g in gap_a if g > 20), len(elsewhere),
            rep["matchedMillis"], rep["receivedMillis"]))
        if elsewhere: print("breaks away from the splices (at ms, gap, missing, repeated, delay before -> after):",
                            [(round(t["atMillis"]), t["gapMillis"], t["missingMillis"], t["repeatedMillis"],
                              round(t["lagBeforeMillis"]), round(t["lagAfterMillis"])) for t in elsewhere[:10]])
        if failed: print("failures:", failed[:5])
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try: p.wait(timeout=10)
                except subprocess.TimeoutExpired: p.kill()


if __name__ == "__main__":
    main()
