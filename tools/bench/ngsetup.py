#!/usr/bin/env python3
"""Sets up N calls on an ng-speaking media relay (Baton or rtpengine) and writes the call
file rtpgen reads ("callerPort relayA calleePort relayB" per line). Prints the control rate
(offer+answer pairs per second) and, with --pid, the relay's RSS growth per call.
Usage: ngsetup.py NG_PORT N CALLFILE BASEPORT [--pid PID] [--delete]"""
import re, socket, sys, time

def benc(v):
    if isinstance(v, int): return b"i%de" % v
    if isinstance(v, str): v = v.encode()
    if isinstance(v, bytes): return b"%d:%s" % (len(v), v)
    if isinstance(v, list): return b"l" + b"".join(benc(x) for x in v) + b"e"
    if isinstance(v, dict): return b"d" + b"".join(benc(k) + benc(v[k]) for k in sorted(v)) + b"e"
    raise TypeError(v)

def bdec(b, i=0):
    c = b[i:i+1]
    if c == b"i":
        j = b.index(b"e", i); return int(b[i+1:j]), j + 1
    if c == b"l":
        i += 1; out = []
        while b[i:i+1] != b"e":
            v, i = bdec(b, i); out.append(v)
        return out, i + 1
    if c == b"d":
        i += 1; out = {}
        while b[i:i+1] != b"e":
            k, i = bdec(b, i); v, i = bdec(b, i); out[k.decode()] = v
        return out, i + 1
    j = b.index(b":", i); n = int(b[i:j]); return b[j+1:j+1+n], j + 1 + n

class NG:
    def __init__(self, port):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.settimeout(5)
        self.addr = ("127.0.0.1", port)
        self.n = 0
    def call(self, d):
        self.n += 1
        cookie = b"%d_%d" % (time.monotonic_ns(), self.n)
        self.s.sendto(cookie + b" " + benc(d), self.addr)
        while True:
            data, _ = self.s.recvfrom(65536)
            if data.startswith(cookie + b" "):
                return bdec(data, len(cookie) + 1)[0]

def sdp(port):
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n" % port)

def port_of(r):
    if r.get("result") != b"ok": raise SystemExit("ng error: %r" % r)
    return int(re.search(rb"m=audio (\d+)", r["sdp"]).group(1))

def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"): return int(line.split()[1])
    return 0

def main():
    ngport, n, callfile, base = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    pid = int(sys.argv[sys.argv.index("--pid") + 1]) if "--pid" in sys.argv else None
    ng = NG(ngport)
    assert ng.call({"command": "ping"}).get("result") == b"pong"
    rss0 = rss_kib(pid) if pid else 0
    lines = []
    t0 = time.monotonic()
    for i in range(n):
        a, b = base + 2 * i, base + 2 * i + 1
        cid = "bench-%d-%d" % (base, i)
        opts = {"replace": ["origin", "session-connection"], "ICE": "remove", "transport-protocol": "RTP/AVP"}
        rb = port_of(ng.call(dict(opts, command="offer", **{"call-id": cid, "from-tag": "ft%d" % i, "sdp": sdp(a)})))
        ra = port_of(ng.call(dict(opts, command="answer", **{"call-id": cid, "from-tag": "ft%d" % i, "to-tag": "tt%d" % i, "sdp": sdp(b)})))
        lines.append("%d %d %d %d\n" % (a, ra, b, rb))
    dt = time.monotonic() - t0
    time.sleep(0.5)
    rss1 = rss_kib(pid) if pid else 0
    open(callfile, "w").writelines(lines)
    print("calls=%d setup_seconds=%.3f offer_answer_per_s=%.0f rss_growth_kib_per_call=%.1f" % (n, dt, n / dt, (rss1 - rss0) / max(n, 1)))

if __name__ == "__main__":
    main()
