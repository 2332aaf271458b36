#!/usr/bin/env python3
"""Call-setup benchmark: sipp's built-in uac (INVITE with SDP, 500 ms hold, BYE) at a
ladder of rates against (a) Baton alone as the media-anchoring B2BUA and (b) Kamailio
(stateful proxy, record-route, rtpengine_manage; Tests/Interop/fixtures/kamailio.cfg) in
front of rtpengine, both pinned to CPU 0; sipp's uas answers behind both (CPU 1).
Loopback only; every process is bounded in time and stopped by PID.
The front "baton+digest" is Baton with SIP digest authentication on (auth.sip): every
INVITE is challenged (407) and sent again with credentials (tools/bench/uac-digest.xml).
The front "baton+postgres" is Baton with its state in PostgreSQL (store.url): a private
cluster (tools/pg-cluster.sh, CPU 1 with sipp); the database's CPU and its work per call
(transactions, rows written and read, from pg_stat_database) are reported beside.
The front "kamailio+2baton" is two Baton gateways on that PostgreSQL behind Kamailio's
dispatcher (conf/kamailio-dispatcher.cfg), all three on CPU 0: on this 2-core VM it measures
what the dispatcher and a second gateway cost on one core, not scale-out (calls follow the
200's Record-Route: tools/bench/uac-rr.xml).
Usage: setup_bench.py [--rates 100,200,400,600,800] [--seconds 10] [--only baton,baton+digest,baton+postgres,kamailio+2baton,kamailio+rtpengine]
(SETUP_TRACE=1 also keeps sipp's message log next to the statistics file; BATON_EXTRA adds
flags to Baton's command line, e.g. BATON_EXTRA="--store-resume-calls false".)"""
import argparse, os, re, signal, socket, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# The binary under test; BATON_BIN compares another build (an older commit's) in the same run.
BATON = os.environ.get("BATON_BIN", os.path.join(ROOT, ".build/release/baton"))
OUT = os.path.join(HERE, "out")
sys.path.insert(0, HERE)
from media_bench import cpu_seconds, wait_ng  # noqa: E402

UAS, FRONT, NG = 27080, 27060, 27065
PG_PORT = 27095
PG_DIR = os.path.join(OUT, "pg")

def pg_url():
    return "postgres://baton@127.0.0.1:%d/baton" % PG_PORT

def pg_start():
    subprocess.run(["taskset", "-c", "1", os.path.join(ROOT, "tools/pg-cluster.sh"), "start", PG_DIR, str(PG_PORT)],
                   check=True, timeout=60, stdout=subprocess.DEVNULL)

def pg_stop():
    subprocess.run([os.path.join(ROOT, "tools/pg-cluster.sh"), "stop", PG_DIR], timeout=60)

def pg_cpu():
    """CPU seconds of the cluster's postmaster and every process under it."""
    try: pm = int(open(os.path.join(PG_DIR, "data", "postmaster.pid")).readline())
    except (OSError, ValueError): return 0.0
    kids = subprocess.run(["ps", "--ppid", str(pm), "-o", "pid="], capture_output=True, text=True).stdout.split()
    total = 0.0
    for p in [str(pm)] + kids:
        try: total += cpu_seconds(int(p))
        except (OSError, ValueError): pass   # a backend that ended meanwhile
    return total

def pg_counts():
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "baton", "-d", "baton", "-tAc",
                          "SELECT pg_stat_force_next_flush(); SELECT xact_commit, tup_inserted + tup_updated + tup_deleted, tup_returned "
                          "FROM pg_stat_database WHERE datname = 'baton'"], capture_output=True, text=True, timeout=30).stdout
    vals = [l for l in out.splitlines() if "|" in l]
    return [int(x) for x in vals[-1].split("|")] if vals else [0, 0, 0]

DIGEST = ["--auth-sip", "true", "--auth-realm", "bench"]

def start_front(kind, log):
    if kind == "kamailio+2baton":
        procs = []
        for i in range(2):
            store = os.path.join(OUT, "setup-gw%d.sqlite" % i)
            procs.append(subprocess.Popen(["taskset", "-c", "0", BATON, "serve", "--config", os.path.join(HERE, "bench.toml"),
                "--sip-port", str(27100 + 10 * i), "--sip-tcp", "false", "--http-port", str(27091 + i), "--ng-port", str(27105 + 10 * i),
                "--media-port-min", str(20000 + 10000 * i), "--media-port-max", str(29999 + 10000 * i), "--media-threads", "1",
                "--store-path", store, "--store-url", pg_url(), "--cluster-gateway-id", "bench%d" % i,
                "--route", ".=127.0.0.1:%d" % UAS], stdout=log, stderr=log, cwd=OUT))
            wait_ng(27105 + 10 * i)
        lst = os.path.join(OUT, "dispatcher.list")
        open(lst, "w").write("".join("1 sip:127.0.0.1:%d 8\n" % (27100 + 10 * i) for i in range(2)))
        cfg = open(os.path.join(ROOT, "conf/kamailio-dispatcher.cfg")).read()
        cfg = cfg.replace("@LISTEN@", "udp:127.0.0.1:%d" % FRONT).replace("@LIST@", lst).replace("debug=2", "debug=1")
        cfg = cfg.replace("children=2", "children=8").replace('xlog("L_INFO", "$rm $ci -> $du\\n");', "")
        path = os.path.join(OUT, "kamailio-dispatcher-bench.cfg")
        open(path, "w").write(cfg)
        procs.append(subprocess.Popen(["taskset", "-c", "0", "kamailio", "-f", path, "-DD", "-E", "-m", "1024", "-M", "16",
                                       "-P", os.path.join(OUT, "kamd.pid"), "-Y", OUT], stdout=log, stderr=log))
        time.sleep(2.5)   # started, and a probe round done
        return procs
    if kind in ("baton", "baton+digest", "baton+postgres"):
        store = os.path.join(OUT, "setup.sqlite")
        cmd = [BATON, "serve", "--config", os.path.join(HERE, "bench.toml"),
               "--sip-port", str(FRONT), "--sip-tcp", "false", "--http-port", "27090", "--ng-port", str(NG),
               "--media-port-min", "20000", "--media-port-max", "39999", "--media-threads", "1",
               "--store-path", store, "--route", ".=127.0.0.1:%d" % UAS]
        # BATON_EXTRA: more flags for Baton (e.g. "--store-resume-calls false" to compare).
        cmd += os.environ.get("BATON_EXTRA", "").split()
        if kind == "baton+postgres":
            cmd += ["--store-url", pg_url()]
        if kind == "baton+digest":
            subprocess.run([BATON, "users", "add", "bench", "--password", "bench-pw", "--config", os.path.join(HERE, "bench.toml"),
                            "--store-path", store] + DIGEST, stdout=log, stderr=log, check=True, timeout=30)
            cmd += DIGEST
        procs = [subprocess.Popen(["taskset", "-c", "0"] + cmd, stdout=log, stderr=log, cwd=OUT)]
        wait_ng(NG)
        return procs
    rtpe = subprocess.Popen(["taskset", "-c", "0", "rtpengine", "--foreground", "--table=-1", "--interface=127.0.0.1",
                             "--listen-ng=127.0.0.1:%d" % NG, "--port-min=20000", "--port-max=39999",
                             "--log-level=3", "--log-stderr", "--no-fallback", "--num-threads=1"], stdout=log, stderr=log)
    wait_ng(NG)
    cfg = open(os.path.join(ROOT, "Tests/Interop/fixtures/kamailio.cfg")).read()
    cfg = cfg.replace("@KAM_PORT@", str(FRONT)).replace("@NG_PORT@", str(NG)).replace("@UAS_PORT@", str(UAS))
    cfg = cfg.replace("debug=2", "debug=1")
    # The test fixture runs 2 workers; give the benchmark Kamailio's default 8, so one slow
    # rtpengine reply does not stall every call.
    cfg = cfg.replace("children=2", "children=8")
    # sipp's built-in uac sends ACK and BYE to the proxy without Route headers (it ignores
    # Record-Route): relay such in-dialog requests to the uas instead of answering 404.
    cfg = cfg.replace('sl_send_reply("404", "Not here");',
                      'if (is_method("BYE")) { rtpengine_manage(); } $du = "sip:127.0.0.1:%d"; t_relay();' % UAS)
    cfg = cfg.replace('if (t_check_trans()) { t_relay(); }\n            exit;',
                      'if (t_check_trans()) { t_relay(); exit; }')
    path = os.path.join(OUT, "kamailio-bench.cfg")
    open(path, "w").write(cfg)
    kam = subprocess.Popen(["taskset", "-c", "0", "kamailio", "-f", path, "-DD", "-E", "-m", "1024", "-M", "16",
                            "-P", os.path.join(OUT, "kam.pid"), "-Y", OUT], stdout=log, stderr=log)
    time.sleep(2)
    return [rtpe, kam]

def stop(procs, kind):
    for p in procs:
        p.send_signal(signal.SIGTERM)
        try: p.wait(timeout=10)
        except subprocess.TimeoutExpired: p.kill()
    if kind == "kamailio+rtpengine":
        subprocess.run(["pkill", "-KILL", "-f", os.path.join(OUT, "kamailio-bench.cfg")])
    if kind == "kamailio+2baton":
        subprocess.run(["pkill", "-KILL", "-f", os.path.join(OUT, "kamailio-dispatcher-bench.cfg")])

def wait_ports_free(ports, limit=20):
    """A step starts only when the previous step's processes let go of every port."""
    deadline = time.time() + limit
    for port in ports:
        while True:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind(("127.0.0.1", port)); break
            except OSError:
                if time.time() > deadline: raise SystemExit("UDP port %d still in use after %d s" % (port, limit))
                time.sleep(0.2)
            finally:
                s.close()

def step(kind, rate, seconds):
    log = open(os.path.join(OUT, "setup-%s-%d.log" % (kind, rate)), "w")
    wait_ports_free([UAS, FRONT, NG, 27070])
    procs = start_front(kind, log)
    uas = None
    try:
        uas = subprocess.Popen(["taskset", "-c", "1", "sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(UAS),
                                "-nostdin"], stdout=log, stderr=log, cwd=OUT)
        time.sleep(0.5)
        n = int(rate * seconds)
        db0 = (pg_cpu(), pg_counts()) if kind in ("baton+postgres", "kamailio+2baton") else None
        cpu0 = sum(cpu_seconds(p.pid) for p in procs)
        t0 = time.time()
        stat = os.path.join(OUT, "stat-%s-%d.csv" % (kind, rate))
        scenario = (["-sf", os.path.join(HERE, "uac-digest.xml"), "-au", "bench", "-ap", "bench-pw"]
                    if kind == "baton+digest" else ["-sf", os.path.join(HERE, "uac-rr.xml")] if kind == "kamailio+2baton" else ["-sn", "uac"])
        uac = subprocess.Popen(["taskset", "-c", "1", "sipp"] + scenario + ["-i", "127.0.0.1", "-p", "27070",
                                "127.0.0.1:%d" % FRONT, "-s", "1000", "-r", str(rate), "-m", str(n), "-d", "500",
                                "-l", str(rate * 3), "-nostdin", "-timeout", "%ds" % (seconds + 20),
                                "-trace_stat", "-stf", stat, "-fd", "1", "-trace_rtt", "-rtt_freq", "1"] + (["-trace_msg", "-message_file", stat + ".msg"] if os.environ.get("SETUP_TRACE") else []),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=OUT)
        try:
            uac.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            uac.kill(); uac.wait()
        wall = time.time() - t0
        cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu0
        db = {}
        if db0:
            time.sleep(1.0)   # the store writer's last batch (20 ms window) and the stats flush
            cpu_db = pg_cpu() - db0[0]
            counts = [b - a for a, b in zip(db0[1], pg_counts())]
            calls = max(1, n)
            db = {"db_cpu_pct": "%.0f" % (100 * cpu_db / wall),
                  "db_per_call": "%.2f xact, %.1f rows written, %.1f rows read" % (counts[0] / calls, counts[1] / calls, counts[2] / calls)}
        # sipp's statistics file: the last row holds the cumulative counters.
        rows = [l.rstrip("\n").split(";") for l in open(stat)] if os.path.exists(stat) else []
        head, last = (rows[0], rows[-1]) if len(rows) > 1 else ([], [])
        col = lambda name: last[head.index(name)] if name in head else "?"
        # INVITE->200 per call: sipp's response-time trace (rtd 1 of the built-in uac, whole ms).
        rtt = os.path.join(OUT, "%s_%d_rtt.csv" % ({"baton+digest": "uac-digest", "kamailio+2baton": "uac-rr"}.get(kind, "uac"), uac.pid))
        times = sorted(float(l.split(";")[1]) for l in open(rtt).readlines()[1:] if l.count(";") == 2) if os.path.exists(rtt) else []
        if os.path.exists(rtt): os.remove(rtt)
        pct = lambda q: "%.0f" % times[min(len(times) - 1, int(q * len(times)))] if times else "-"
        return {"attempted": n, "successful": col("SuccessfulCall(C)"), "failed": col("FailedCall(C)"),
                "invite_200_p50_ms": pct(0.50), "invite_200_p99_ms": pct(0.99), "front_cpu_pct": "%.0f" % (100 * cpu / wall), **db}
    finally:
        if uas is not None:
            uas.send_signal(signal.SIGTERM)
            try: uas.wait(timeout=5)
            except subprocess.TimeoutExpired: uas.kill(); uas.wait()
        stop(procs, kind)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="100,200,400,600,800")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--only", default="baton,kamailio+rtpengine")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    cols = ["front", "rate", "attempted", "successful", "failed", "invite_200_p50_ms", "invite_200_p99_ms", "front_cpu_pct",
            "db_cpu_pct", "db_per_call"]
    kinds = a.only.split(",")
    if "baton+postgres" in kinds or "kamailio+2baton" in kinds: pg_start()
    print("| " + " | ".join(cols) + " |"); print("|" + "---|" * len(cols))
    # One front through the whole ladder, then the other: no step follows a step of the other
    # front, whose processes and ports are gone before the next starts (wait_ports_free).
    try:
        for kind in kinds:
            for rate in [int(x) for x in a.rates.split(",")]:
                r = step(kind, rate, a.seconds)
                r["front"], r["rate"] = kind, rate
                print("| " + " | ".join(str(r.get(c, "-")) for c in cols) + " |", flush=True)
    finally:
        if "baton+postgres" in kinds or "kamailio+2baton" in kinds: pg_stop()

if __name__ == "__main__":
    main()
