#!/usr/bin/env python3
"""Media relay benchmark: Baton vs rtpengine (userspace, --table=-1) vs a minimal C
forwarder (the floor), each pinned to CPU 0, driven through ng by the same paced
bidirectional RTP generator (rtpgen, 100 pps per call, 172-byte PCMU packets) on CPU 1.
Loopback only; every process is bounded in time and stopped by PID.

Usage: media_bench.py [--calls 100,500,1000,2000,4000] [--seconds 5] [--only floor,rtpengine,baton]
A relay named baton-cN runs Baton with --media-coalesce-us N (e.g. --only baton,baton-c300).
Run through tools/bench/run-media-bench.sh, which installs and builds what is needed."""
import argparse, os, signal, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# The binary under test; BATON_BIN compares another build (an older commit's) in the same run.
BATON = os.environ.get("BATON_BIN", os.path.join(ROOT, ".build/release/baton"))
OUT = os.path.join(HERE, "out")
sys.path.insert(0, HERE)
import ngsetup  # noqa: E402

GEN_BASE = 50000
CLK = os.sysconf("SC_CLK_TCK")

def cpu_seconds(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / CLK

def rss_kib(pid):
    return ngsetup.rss_kib(pid)

def wait_ng(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            ng = ngsetup.NG(port); ng.s.settimeout(0.3)
            if ng.call({"command": "ping"}).get("result") == b"pong": return True
        except Exception:
            time.sleep(0.2)
    return False

def start(relay, ng_port, log, extra=()):
    if relay.startswith("baton"):
        cmd = [BATON, "serve", "--config", os.path.join(HERE, "bench.toml"),
               "--sip-port", "25060", "--http-port", "25080", "--ng-port", str(ng_port),
               "--media-port-min", "20000", "--media-port-max", "39999", "--media-threads", "1",
               "--store-path", os.path.join(OUT, "bench.sqlite"), "--log-level", "warning"]
        if relay.startswith("baton-c"):  # baton-c300: interrupt moderation window of 300 µs
            cmd += ["--media-coalesce-us", relay[len("baton-c"):]]
    elif relay == "rtpengine":
        cmd = ["rtpengine", "--foreground", "--table=-1", "--interface=127.0.0.1", "--listen-ng=127.0.0.1:%d" % ng_port,
               "--port-min=20000", "--port-max=39999", "--log-level=3", "--log-stderr", "--no-fallback",
               "--num-threads=1"]
    else:
        cmd = [os.path.join(OUT, "floor"), "19998"]
    p = subprocess.Popen(["taskset", "-c", "0"] + cmd + list(extra), stdout=log, stderr=log, cwd=OUT)
    if relay != "floor" and not wait_ng(ng_port):
        p.kill(); raise SystemExit("%s did not answer ng ping (see %s)" % (relay, log.name))
    time.sleep(0.3)
    return p

def step(relay, calls, seconds):
    log = open(os.path.join(OUT, "%s-%d.log" % (relay, calls)), "w")
    ng_port = 22223
    p = start(relay, ng_port, log)
    try:
        callfile = os.path.join(OUT, "calls-%s-%d.txt" % (relay, calls))
        control = {}
        if relay == "floor":
            with open(callfile, "w") as f:
                for i in range(calls):
                    f.write("%d 19998 %d 19998\n" % (GEN_BASE + 2 * i, GEN_BASE + 2 * i + 1))
        else:
            rss0 = rss_kib(p.pid)
            out = subprocess.run([sys.executable, os.path.join(HERE, "ngsetup.py"), str(ng_port), str(calls), callfile,
                                  str(GEN_BASE)], capture_output=True, text=True, timeout=600)
            if out.returncode != 0: raise SystemExit(out.stderr)
            control = dict(kv.split("=") for kv in out.stdout.split())
            control["rss_kib_per_call"] = "%.1f" % ((rss_kib(p.pid) - rss0) / calls)
        c0 = cpu_seconds(p.pid)
        t0 = time.time()
        gen = subprocess.run(["taskset", "-c", "1", os.path.join(OUT, "rtpgen"), callfile, str(seconds), "1"],
                             capture_output=True, text=True, timeout=seconds + 60)
        wall = time.time() - t0
        c1 = cpu_seconds(p.pid)
        r = dict(kv.split("=") for kv in gen.stdout.split())
        relayed = float(r["relayed_pps"]) * seconds
        cpu = c1 - c0
        r.update(control)
        r["cpu_pct"] = "%.0f" % (100 * cpu / wall)
        r["cpu_us_per_pkt"] = "%.1f" % (cpu * 1e6 / relayed) if relayed > 0 else "-"
        return r
    finally:
        p.send_signal(signal.SIGTERM)
        try: p.wait(timeout=15)
        except subprocess.TimeoutExpired: p.kill()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", default="100,500,1000,2000,4000")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--only", default="floor,rtpengine,baton")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    print("machine: %s, %d CPUs; relay on CPU 0, generator on CPU 1; %s s per step" %
          (os.uname().release, os.cpu_count(), a.seconds))
    cols = ["relay", "calls", "offered_pps", "relayed_pps", "loss_pct", "p50_us", "p99_us", "p999_us",
            "cpu_pct", "cpu_us_per_pkt", "offer_answer_per_s", "rss_kib_per_call", "generator_limited"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for calls in [int(x) for x in a.calls.split(",")]:
        for relay in a.only.split(","):
            r = step(relay, calls, a.seconds)
            r["relay"], r["calls"] = relay, str(calls)
            print("| " + " | ".join(str(r.get(c, "-")) for c in cols) + " |", flush=True)

if __name__ == "__main__":
    main()
