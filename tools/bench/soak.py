#!/usr/bin/python3
"""Soak: sipp calls with RTP through Baton for as long as asked, sampling once a second
what would show a leak or wear (docs/performance.md, "Soak").

sipp's UAC places `--rate` calls a second, each playing `--call-seconds` of PCMU (a pcap
made here) and hanging up; sipp's built-in UAS answers and echoes the RTP (-rtp_echo), so
every call carries media both ways through Baton's relay. Each second the tool records:
calls in progress, successful and failed calls (sipp's statistics), Baton's resident
memory and open descriptors (/proc; those besides the RTP port pool, which keeps released
pairs open by design, are the ones that must stay flat), and the relay's loss (from /metrics: packets dropped
for a bad source, no destination or a send error, over those plus the relayed ones).

Written to OUT (default tools/bench/out/soak-<time>): series.csv, soak.png (the four
series against time), summary.json. With --check the exit status says whether the run
passed: no failed call, RSS and descriptors flat after the warm-up (the median of the
last tenth of the traffic within --growth of the median of the tenth after warm-up),
loss under --max-loss.

Loopback only; every process is bounded in time and stopped by PID.
Usage: soak.py [--seconds 600] [--rate 30] [--call-seconds 10] [--warmup S] [--ports 4000] [--check] [--out DIR]
       (BATON_BIN: the binary; default the newer of the release and debug builds)"""
import argparse, json, os, signal, struct, subprocess, sys, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SIP, HTTP, UAS, UAC = 27300, 29300, 27380, 27382
RTP_MIN = 33000
UAC_MEDIA, UAS_MEDIA = 40000, 42000


def baton_binary():
    b = os.environ.get("BATON_BIN")
    if b:
        return os.path.abspath(b)
    built = [os.path.join(ROOT, p) for p in (".build/release/baton", ".build/debug/baton") if os.path.exists(os.path.join(ROOT, p))]
    if not built:
        sys.exit("soak: no baton binary (swift build, or BATON_BIN)")
    return max(built, key=os.path.getmtime)   # the newer build


def write_pcap(path, packets):
    """PCMU RTP (20 ms, a 1 kHz tone) in a pcap sipp's play_pcap_audio replays."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    payload = bytes((0x80 + (i % 8) * 16) & 0xFF for i in range(160))
    for i in range(packets):
        rtp = struct.pack("!BBHII", 0x80, 0, i & 0xFFFF, (i * 160) & 0xFFFFFFFF, 0x50AC0001) + payload
        udp = struct.pack("!HHHH", 5000, 6000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        eth = b"\x00" * 12 + b"\x08\x00" + ip
        t = i * 0.02
        out.append(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(eth), len(eth)) + eth)
    with open(path, "wb") as f:
        f.write(b"".join(out))


UAC_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="soak caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: soak <sip:soak@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:soak@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: soak <sip:soak@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      [routes]
      Contact: sip:soak@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <nop><action><exec play_pcap_audio="soak.pcap"/></action></nop>
  <pause milliseconds="%(hold)d"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: soak <sip:soak@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      [routes]
      Contact: sip:soak@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
"""


def proc_sample(pid):
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def relay_counters():
    """Relayed and dropped packets, and the port pairs the pool holds open (in use + parked)."""
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % HTTP, timeout=2).read().decode()
    relayed = dropped = pairs = 0
    for line in text.splitlines():
        if line.startswith("baton_rtp_packets_relayed_total "):
            relayed = int(float(line.split()[-1]))
        elif line.startswith("baton_rtp_packets_dropped_total{") and "parked_port" not in line:
            dropped += int(float(line.split()[-1]))
        elif line.startswith("baton_rtp_port_pairs_in_use ") or line.startswith("baton_rtp_port_pairs_parked "):
            pairs += int(float(line.split()[-1]))
    return relayed, dropped, pairs


def sipp_stats(path):
    """Current, successful and failed calls from sipp's -trace_stat CSV (last row)."""
    try:
        with open(path) as f:
            rows = [l.rstrip("\n").split(";") for l in f if l.strip()]
    except OSError:
        return 0, 0, 0
    if len(rows) < 2:
        return 0, 0, 0
    head, last = rows[0], rows[-1]
    def col(name):
        return int(last[head.index(name)]) if name in head and head.index(name) < len(last) else 0
    return col("CurrentCall"), col("SuccessfulCall(C)"), col("FailedCall(C)")


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2] if s else 0


def plot(series, path, warmup, traffic_end):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t = [r["t"] for r in series]
    fig, ax = plt.subplots(4, 1, figsize=(10, 11), sharex=True)
    ax[0].plot(t, [r["current"] for r in series], label="calls in progress")
    ax[0].plot(t, [r["failed"] for r in series], label="failed calls (total)", color="red")
    ax[0].legend(loc="upper left"); ax[0].set_ylabel("calls")
    ax[1].plot(t, [r["rss"] / 1e6 for r in series]); ax[1].set_ylabel("Baton RSS (MB)")
    ax[2].plot(t, [r["fds"] for r in series], label="all")
    ax[2].plot(t, [r["other_fds"] for r in series], label="besides the RTP port pool")
    ax[2].legend(loc="upper left"); ax[2].set_ylabel("open descriptors")
    ax[3].plot(t, [r["loss_ppm"] for r in series]); ax[3].set_ylabel("relay loss (ppm, cumulative)")
    ax[3].set_xlabel("seconds")
    for a in ax:
        a.axvline(warmup, color="grey", linestyle=":")
        a.axvline(traffic_end, color="grey", linestyle=":")
        a.grid(alpha=0.3)
    fig.suptitle("Baton soak: sipp calls with RTP (warm-up and end of traffic dotted)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--rate", type=int, default=30)
    ap.add_argument("--call-seconds", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=None, help="seconds before the flatness baseline (default: 3 calls' length, at least 30)")
    ap.add_argument("--ports", type=int, default=4000, help="RTP ports Baton may use (from 33000); the pool parks released pairs "
                    "and cycles through the range, so RSS and descriptors level off once it has (a smaller range: sooner)")
    ap.add_argument("--growth", type=float, default=0.05)
    ap.add_argument("--max-loss", type=float, default=1e-4)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "out", "soak-%d" % int(time.time())))
    a = ap.parse_args()
    a.out = os.path.abspath(a.out)   # the processes run there
    warmup = a.warmup if a.warmup is not None else max(30, 3 * a.call_seconds)
    os.makedirs(a.out, exist_ok=True)
    write_pcap(os.path.join(a.out, "soak.pcap"), a.call_seconds * 50)
    with open(os.path.join(a.out, "uac-soak.xml"), "w") as f:
        f.write(UAC_XML % {"hold": a.call_seconds * 1000})
    store = os.path.join(a.out, "soak.sqlite")
    for p in (store, store + "-wal", store + "-shm"):
        if os.path.exists(p):
            os.remove(p)
    logs = {n: open(os.path.join(a.out, n + ".log"), "w") for n in ("baton", "uas", "uac")}
    procs = []
    def start(name, argv):
        p = subprocess.Popen(argv, cwd=a.out, stdout=logs[name], stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        procs.append(p)
        return p
    concurrent = a.rate * (a.call_seconds + 2)
    try:
        relay_counters()
        sys.exit("soak: something already answers on port %d (a baton left from another run?)" % HTTP)
    except OSError:
        pass
    baton = start("baton", [baton_binary(), "serve", "--config", "/dev/null", "--sip-port", str(SIP), "--http-port", str(HTTP),
                            "--ng-port", str(SIP + 5), "--media-port-min", str(RTP_MIN), "--media-port-max", str(RTP_MIN + a.ports - 1),
                            "--store-path", store, "--route", "soak=127.0.0.1:%d" % UAS, "--log-level", "warning"])
    stat = os.path.join(a.out, "uac-stat.csv")
    series = []
    ok = False
    try:
        for _ in range(100):
            try:
                relay_counters(); break
            except OSError:
                if baton.poll() is not None:
                    sys.exit("soak: baton exited at start (see %s/baton.log)" % a.out)
                time.sleep(0.1)
        start("uas", ["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(UAS), "-mp", str(UAS_MEDIA), "-rtp_echo",
                      "-nostdin", "-timeout", "%ds" % (a.seconds + 60)])
        total = a.rate * a.seconds
        uac = start("uac", ["sipp", "-sf", "uac-soak.xml", "-s", "soak", "-i", "127.0.0.1", "-p", str(UAC), "-mp", str(UAC_MEDIA),
                            "-r", str(a.rate), "-m", str(total), "-l", str(concurrent * 2), "-nostdin", "-nd",
                            "-timeout", "%ds" % (a.seconds + a.call_seconds + 60), "-trace_stat", "-stf", stat, "-fd", "1",
                            "127.0.0.1:%d" % SIP])
        t0 = time.time()
        traffic_end = a.seconds + a.call_seconds + 2
        while True:
            t = time.time() - t0
            if uac.poll() is not None or t > traffic_end + 30:
                break
            rss, fds = proc_sample(baton.pid)
            relayed, dropped, pairs = relay_counters()
            current, success, failed = sipp_stats(stat)
            series.append({"t": round(t, 1), "current": current, "success": success, "failed": failed, "rss": rss, "fds": fds,
                           # Descriptors besides the relay's port pool: the pool keeps released
                           # pairs open (parked, reused oldest first), so its share grows until it
                           # has cycled through the port range, by design.
                           "other_fds": fds - 2 * pairs, "pool_fds": 2 * pairs,
                           "relayed": relayed, "dropped": dropped,
                           "loss_ppm": round(1e6 * dropped / max(1, relayed + dropped), 3)})
            time.sleep(max(0, 1 - (time.time() - t0 - t)))
        uac_rc = uac.wait(timeout=60)
        current, success, failed = sipp_stats(stat)
        relayed, dropped, _ = relay_counters()
        # Flatness: the tenth of the traffic after warm-up against the last tenth of it.
        steady = [r for r in series if warmup <= r["t"] <= a.seconds]
        k = max(1, len(steady) // 10)
        first, last = steady[:k], steady[-k:]
        def growth(key):
            base = median([r[key] for r in first]) if first else 0
            return (median([r[key] for r in last]) - base) / base if base else 0.0
        loss = dropped / max(1, relayed + dropped)
        summary = {"seconds": a.seconds, "rate": a.rate, "call_seconds": a.call_seconds, "warmup": warmup,
                   "calls_successful": success, "calls_failed": failed, "sipp_exit": uac_rc,
                   "rss_start_mb": round(median([r["rss"] for r in first]) / 1e6, 1) if first else None,
                   "rss_end_mb": round(median([r["rss"] for r in last]) / 1e6, 1) if last else None,
                   "rss_growth": round(growth("rss"), 4), "fds_growth": round(growth("other_fds"), 4),
                   "fds_start": median([r["other_fds"] for r in first]) if first else None,
                   "fds_end": median([r["other_fds"] for r in last]) if last else None,
                   "pool_fds_end": median([r["pool_fds"] for r in last]) if last else None,
                   "packets_relayed": relayed, "packets_dropped": dropped, "loss": loss,
                   "peak_calls": max([r["current"] for r in series] or [0])}
        ok = (failed == 0 and success == a.rate * a.seconds and summary["rss_growth"] < a.growth
              and summary["fds_growth"] < a.growth and loss < a.max_loss)
        summary["passed"] = ok
        with open(os.path.join(a.out, "summary.json"), "w") as f:
            json.dump(summary, f, indent=2)
        with open(os.path.join(a.out, "series.csv"), "w") as f:
            keys = list(series[0].keys()) if series else []
            f.write(",".join(keys) + "\n")
            for r in series:
                f.write(",".join(str(r[k]) for k in keys) + "\n")
        if series:
            plot(series, os.path.join(a.out, "soak.png"), warmup, a.seconds)
        print(json.dumps(summary, indent=2))
        print("soak: %s (%s)" % ("PASSED" if ok else "FAILED", a.out))
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
    sys.exit(0 if ok or not a.check else 1)


if __name__ == "__main__":
    main()
