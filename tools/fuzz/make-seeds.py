#!/usr/bin/env python3
"""Writes the hand-made seed corpus of each fuzz target under tools/fuzz/corpus/<target>/.

The identity seeds are signed: `baton-fuzz --seeds tools/fuzz/corpus` writes those.
Run from the repository root; files are overwritten, others left alone."""
import os, struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def crlf(s):
    return s.replace("\r\n", "\n").replace("\n", "\r\n")

SDP = crlf("""v=0
o=alice 2890844526 2890844526 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 49170 RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
""")
SDP_OPUS = crlf("""v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 40000 RTP/AVP 111 101
a=rtpmap:111 opus/48000/2
a=fmtp:111 useinbandfec=1;minptime=10
a=rtpmap:101 telephone-event/48000
a=ptime:20
""")
SDP_SRTP = crlf("""v=0
o=- 2 2 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 40002 RTP/SAVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32
a=crypto:2 AEAD_AES_256_GCM inline:3zKc6Jq1HMrcMtPLhJyWNF2TCjv4TW3XPmdyWMlEzdTo2z5Hbbu4gbgIPkM=
a=rtcp:40003
""")
SDP_ICE6 = crlf("""v=0
o=- 3 3 IN IP6 ::1
s=-
c=IN IP6 ::1
t=0 0
a=group:BUNDLE 0 1
m=audio 40004 UDP/TLS/RTP/SAVPF 111 0
c=IN IP6 ::1
a=mid:0
a=ice-ufrag:abcd
a=ice-pwd:abcdefghijklmnopqrstuv
a=candidate:1 1 udp 2130706431 ::1 40004 typ host
a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF
a=setup:actpass
a=rtpmap:111 opus/48000/2
a=rtcp-mux
a=recvonly
m=video 0 RTP/AVP 96
a=rtpmap:96 VP8/90000
""")
SDP_HOLD = SDP.replace("a=sendrecv", "a=sendonly").replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0")

def invite(sdp=SDP, extra="", callid="a84b4c76e66710@127.0.0.1", user="bob", cseq=314159, method="INVITE"):
    return crlf(f"""{method} sip:{user}@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK776asdhds;rport
Max-Forwards: 70
To: Bob <sip:{user}@127.0.0.1>
From: Alice <sip:alice@127.0.0.1>;tag=1928301774
Call-ID: {callid}
CSeq: {cseq} {method}
Contact: <sip:alice@127.0.0.1:5070>
{extra}Content-Type: application/sdp
Content-Length: {len(sdp)}

""") + sdp

def request(method, extra="", body="", ctype=None, totag=None, cseq=1):
    to = "Bob <sip:bob@127.0.0.1>" + (f";tag={totag}" if totag else "")
    ct = f"Content-Type: {ctype}\n" if ctype else ""
    return crlf(f"""{method} sip:bob@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{method.lower()}1;rport
Max-Forwards: 70
To: {to}
From: Alice <sip:alice@127.0.0.1>;tag=1928301774
Call-ID: a84b4c76e66710@127.0.0.1
CSeq: {cseq} {method}
Contact: <sip:alice@127.0.0.1:5070>
{extra}{ct}Content-Length: {len(body)}

""") + body

SEP = "\n----\n"
AUTH = 'Digest username="alice", realm="baton.test", nonce="MTc2NzIyNTYwMDpmdXp6", uri="sip:baton.test", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, qop=auth, nc=00000001, cnonce="0a4f113b", opaque="5ccc069c403ebaf9f0171e9517f40e41"'

def sip():
    put("sip", "invite", invite())
    put("sip", "invite-opus-srtp", invite(SDP_SRTP))
    put("sip", "invite-no-sdp", request("INVITE"))
    put("sip", "invite-then-cancel", invite() + SEP + request("CANCEL", cseq=314159).replace("z9hG4bKcancel1", "z9hG4bK776asdhds"))
    put("sip", "invite-then-ack-bye", invite() + SEP + "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\nTo: <sip:bob@127.0.0.1>;tag=b\r\nFrom: <sip:alice@127.0.0.1>;tag=1\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n" + SEP + request("BYE", totag="b", cseq=314160))
    put("sip", "register", request("REGISTER", extra="Expires: 3600\nPath: <sip:proxy.example;lr>\n").replace("sip:bob@127.0.0.1 SIP", "sip:127.0.0.1 SIP"))
    put("sip", "register-auth", request("REGISTER", extra=f"Authorization: {AUTH}\n"))
    put("sip", "invite-proxy-auth", invite(extra=f"Proxy-Authorization: {AUTH}\n"))
    put("sip", "options", request("OPTIONS", extra="Accept: application/sdp\n"))
    put("sip", "subscribe-dialog", request("SUBSCRIBE", extra="Event: dialog\nExpires: 600\nAccept: application/dialog-info+xml\n"))
    put("sip", "refer", request("REFER", extra="Refer-To: <sip:carol@127.0.0.1>\nReferred-By: <sip:alice@127.0.0.1>\n", totag="b"))
    put("sip", "invite-replaces", invite(extra="Replaces: 12345@127.0.0.1;to-tag=abc;from-tag=def\nRequire: replaces\n"))
    put("sip", "info-dtmf", request("INFO", body="Signal=5\r\nDuration=160\r\n", ctype="application/dtmf-relay", totag="b"))
    put("sip", "update", request("UPDATE", body=SDP_HOLD, ctype="application/sdp", totag="b"))
    put("sip", "prack", request("PRACK", extra="RAck: 1 314159 INVITE\n", totag="b"))
    put("sip", "invite-session-timer", invite(extra="Supported: timer, 100rel\nSession-Expires: 1800;refresher=uac\nMin-SE: 90\n"))
    put("sip", "invite-identity", invite(extra="Identity: eyJhbGciOiJFUzI1NiJ9.eyJvcmlnIjp7InRuIjoiMSJ9fQ.c2ln;info=<https://cert.fuzz.test/shaken.pem>;alg=ES256;ppt=shaken\n"))
    put("sip", "invite-multipart", invite(
        crlf("--b1\nContent-Type: application/sdp\n\n") + SDP + crlf("--b1\nContent-Type: application/isup\n\n\x01\x02\x03\n--b1--\n"),
        extra="MIME-Version: 1.0\n").replace("Content-Type: application/sdp", 'Content-Type: multipart/mixed;boundary=b1', 1))
    put("sip", "response-200", crlf("""SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc;received=127.0.0.1
To: <sip:bob@127.0.0.1>;tag=b
From: <sip:alice@127.0.0.1>;tag=a
Call-ID: x@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:bob@127.0.0.1:5080>
Record-Route: <sip:proxy.example;lr>
Content-Type: application/sdp
Content-Length: %d

""") % len(SDP) + SDP)
    put("sip", "message-tcp-via", request("MESSAGE", body="hello", ctype="text/plain").replace("SIP/2.0/UDP", "SIP/2.0/TCP"))
    put("sip", "invite-ipv6", invite(SDP_ICE6).replace("127.0.0.1:5070", "[::1]:5070"))

def sdp():
    for i, (name, body) in enumerate([("pcmu", SDP), ("opus", SDP_OPUS), ("srtp", SDP_SRTP), ("ice-ipv6-video", SDP_ICE6), ("hold", SDP_HOLD)]):
        put("sdp", name, bytes([0]) + body.encode())
        put("sdp", name + "-options", bytes([(i * 0x0B + 0x2F) & 0x3F]) + body.encode())

def benc(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(benc(x) for x in v) + b"e"
    if isinstance(v, dict):
        return b"d" + b"".join(benc(k) + benc(v[k]) for k in sorted(v)) + b"e"

def ng():
    put("ng", "ping", benc({"command": "ping"}))
    put("ng", "offer", benc({"command": "offer", "call-id": "c1", "from-tag": "a", "sdp": SDP, "ICE": "remove", "flags": ["trust-address"], "replace": ["origin"]}))
    put("ng", "offer-srtp-transcode", benc({"command": "offer", "call-id": "c2", "from-tag": "a", "sdp": SDP_SRTP, "transport-protocol": "RTP/AVP", "codec": {"transcode": ["opus"]}, "received-from": ["IP4", "127.0.0.1"], "direction": ["external", "internal"]}))
    put("ng", "answer", benc({"command": "answer", "call-id": "c1", "from-tag": "a", "to-tag": "b", "sdp": SDP_OPUS}))
    put("ng", "delete", benc({"command": "delete", "call-id": "c1", "from-tag": "a"}))
    put("ng", "query", benc({"command": "query", "call-id": "c1"}))
    put("ng", "list", benc({"command": "list", "limit": 10}))
    put("ng", "statistics", benc({"command": "statistics"}))
    put("ng", "nested", benc({"command": "offer", "call-id": "c3", "from-tag": "a", "sdp": SDP_ICE6, "rtcp-mux": ["demux"], "SDES": ["off"], "media-address": "127.0.0.1", "x": [[{"y": -5}]]}))

def identity():
    put("identity", "garbage", "not a header")
    put("identity", "other-info", "eyJhbGciOiJFUzI1NiIsInBwdCI6InNoYWtlbiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9leGFtcGxlLmNvbS9jZXJ0LnBlbSJ9.eyJhdHRlc3QiOiJBIiwiZGVzdCI6eyJ0biI6WyIxMjE1NTU1MjAwMCJdfSwiaWF0IjoxNzY3MjI1NjAwLCJvcmlnIjp7InRuIjoiMTIxNTU1NTEwMDAifX0.AAAA;info=<https://example.com/cert.pem>;alg=ES256;ppt=shaken")

def digest():
    put("digest", "md5-qop", AUTH)
    put("digest", "sha256", AUTH.replace("MD5", "SHA-256").replace('response="6629fae49393a05397450978507c4ef1"', 'response="' + "ab" * 32 + '"'))
    put("digest", "no-qop", 'Digest username="alice", realm="baton.test", nonce="abc", uri="sip:baton.test", response="00000000000000000000000000000000"')
    put("digest", "escaped", 'Digest username="al\\"ice", realm="baton.test", nonce="a,b", uri="sip:baton.test;x=\\\\", response="x", algorithm=MD5-sess, qop="auth,auth-int", nc=ffffffff, cnonce=""')
    put("digest", "basic", "Basic YWxpY2U6czNjcmV0")

def http():
    bodies = [
        ("POST /login", '{"agent":"a1","password":"pw"}'),
        ("POST /calls/abc/switchover", '{"target":"sip:speaker@127.0.0.1","mode":"silence","window_ms":500,"priming_ms":60,"leg":"callee"}'),
        ("PUT /users/alice", '{"password":"s3cret"}'),
        ("PUT /users/alice/devices/speaker", '{"aor":"sip:speaker@127.0.0.1","kind":"speaker","priority":2}'),
        ("PUT /forwarding/alice/busy", '{"to":"sip:bob@127.0.0.1","after_s":20}'),
        ("PUT /agents/a1", '{"name":"Agent One","aor":"sip:a1@127.0.0.1","skills":["billing","fr"]}'),
        ("PUT /agents/a1/logins/crm", '{"state":"available"}'),
        ("PUT /categories/billing", '{"name":"Billing","description":"money","contacts":["sip:a1@127.0.0.1"],"hours":"Mon-Fri 09:00-17:00"}'),
        ("POST /calls/abc/data", '{"account":"42","reason":"refund","notes":"n","transcript":["hi"],"fields":{"k":"v","n":1}}'),
        ("POST /calls/abc/keys", '{"ttl_s":300}'),
        ("POST /calls/abc/dialog", '{"intent":"refund","confidence":0.4,"noMatch":true,"noInput":false,"sentiment":-0.7,"transcript":"I want a human","humanRequested":true}'),
        ("PUT /conversation-rules", '{"rules":[{"intent":"refund","category":"billing"}]}'),
        ("POST /calls/abc/transfer", '{"agent":"a1","category":"billing","target":"sip:a1@127.0.0.1","leg":"caller","mode":"immediate","ttl_s":60}'),
        ("POST /shared-calls/u1/members", '{"call":"abc"}'),
        ("GET /calls", ""),
        ("GET /keys/ABCD-1234", ""),
    ]
    for i, (line, body) in enumerate(bodies):
        put("http-json", "%02d-%s" % (i, line.split()[1].strip("/").replace("/", "_")), line + "\n" + body)

def relay():
    def rtp(pt, seq, ts, ssrc, payload, marker=0, ext=b""):
        b0 = 0x80 | (0x10 if ext else 0)
        return struct.pack("!BBHII", b0, (marker << 7) | pt, seq, ts, ssrc) + ext + payload
    pcmu = rtp(0, 1, 160, 0x11223344, b"\xff" * 160)
    opus = rtp(111, 1, 960, 0x55667788, bytes([0x78]) + b"\x01" * 40)
    event = rtp(101, 2, 320, 0x11223344, bytes([5, 0x8A, 0x03, 0x20]), marker=1)
    ext = rtp(0, 3, 480, 0x11223344, b"\x7f" * 160, ext=struct.pack("!HH", 0xBEDE, 1) + b"\x10\xaa\x00\x00")
    sr = struct.pack("!BBHIIIIII", 0x80, 200, 6, 0x11223344, 1, 2, 160, 10, 1600)
    rr = struct.pack("!BBHI", 0x81, 201, 7, 0x55667788) + struct.pack("!IIIIII", 0x11223344, 0, 5, 0, 0, 0)
    bye = struct.pack("!BBHI", 0x81, 203, 1, 0x11223344)
    # flags: bit 0 side B, bit 1 RTCP, bit 2 SRTP-protect with A's key
    put("relay", "b-pcmu", bytes([1]) + pcmu)
    put("relay", "b-event", bytes([1]) + event)
    put("relay", "b-ext", bytes([1]) + ext)
    put("relay", "a-opus-srtp", bytes([4]) + opus)
    put("relay", "a-event-srtp", bytes([4]) + rtp(101, 2, 1920, 0x55667788, bytes([11, 0x0A, 0x00, 0xA0])))
    put("relay", "a-opus-plain", bytes([0]) + opus)
    put("relay", "b-rtcp-sr", bytes([3]) + sr)
    put("relay", "a-rtcp-rr-srtcp", bytes([6]) + rr + bye)
    put("relay", "b-short", bytes([1]) + b"\x80\x00")
    # bit 3: the switchover call (bit 0 the device in the call, bit 4 the new device)
    put("relay", "sw-far-pcmu", bytes([8]) + pcmu)
    put("relay", "sw-new-opus", bytes([8 | 16]) + opus)
    put("relay", "sw-old-silence", bytes([9]) + rtp(0, 5, 800, 0x11223344, b"\xff" * 160))
    put("relay", "sw-new-rtcp", bytes([8 | 16 | 2]) + rr)

for f in (sip, sdp, ng, identity, digest, http, relay):
    f()
