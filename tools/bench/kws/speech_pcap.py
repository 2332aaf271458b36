#!/usr/bin/python3
"""Writes a pcap of PCMU RTP packets (20 ms) carrying a spoken phrase, for sipp's
play_pcap_audio: silence, the phrase (espeak-ng or flite, telephone band), silence.

    tools/bench/kws/speech_pcap.py OUT.pcap "I want to talk to an agent" [MORE PHRASES...]
                                   [--voice flite:rms] [--lead 1.0] [--gap 2.0] [--seconds 8]

Used by the interop tests (a caller who speaks to the bot) and the README's demo.
"""
import argparse, os, struct, sys, tempfile
import numpy as np
from scipy.signal import resample_poly

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_utterances import speak, to_ulaw_bytes  # noqa: E402


def write_pcap(path, payload, ssrc=0x5EEC4001):
    frames = [payload[i:i + 160] for i in range(0, len(payload) - 159, 160)]
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            rtp = struct.pack("!BBHII", 0x80, 0x80 if i == 0 else 0, i + 1, 160 * i, ssrc) + fr
            udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
            total = 20 + len(udp)
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, i & 0xFFFF, 0, 64, 17, 0, bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
            csum = sum(struct.unpack("!10H", ip))
            csum = (csum & 0xFFFF) + (csum >> 16)
            csum = (csum & 0xFFFF) + (csum >> 16)
            ip = ip[:10] + struct.pack("!H", ~csum & 0xFFFF) + ip[12:]
            frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
            ts = i * 20000
            f.write(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(frame), len(frame)) + frame)
    return len(frames)


DTMF_FREQ = {"1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
             "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
             "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
             "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633)}


def dtmf_tones(digits):
    """In-band DTMF as a phone without RFC 4733 sends it: each digit's two tones for 100 ms
    (about -10 dBm0 each), then 100 ms of silence."""
    t = np.arange(800) / 8000
    out = []
    for d in digits:
        lo, hi = DTMF_FREQ[d.upper()]
        out.append(3000 * np.sin(2 * np.pi * lo * t) + 3000 * np.sin(2 * np.pi * hi * t))
        out.append(np.zeros(800))
    return np.concatenate(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("text", nargs="*", help="phrases, said one after the other with --gap seconds between")
    ap.add_argument("--dtmf", default="", help="in-band DTMF digits after the phrases (Q.23 pairs, 100 ms on, 100 ms off)")
    ap.add_argument("--gap", type=float, default=2.0)
    ap.add_argument("--voice", default="flite:rms")
    ap.add_argument("--speed", type=int, default=150)
    ap.add_argument("--lead", type=float, default=1.0, help="seconds of silence before the phrase")
    ap.add_argument("--seconds", type=float, default=8.0, help="total length")
    a = ap.parse_args()
    parts = []
    with tempfile.TemporaryDirectory() as d:
        for i, text in enumerate(a.text):
            x, rate = speak(text, a.voice, a.speed, os.path.join(d, "s.wav"))
            if i:
                parts.append(np.zeros(int(a.gap * 8000)))
            parts.append(resample_poly(x, 8000, rate))
    if a.dtmf:
        if parts:
            parts.append(np.zeros(int(a.gap * 8000)))
        parts.append(dtmf_tones(a.dtmf))
    if not parts:
        ap.error("give a phrase or --dtmf")
    y = np.concatenate(parts)
    lead = np.zeros(int(a.lead * 8000))
    total = max(int(a.seconds * 8000), len(lead) + len(y) + 160)
    y = np.concatenate([lead, y, np.zeros(total - len(lead) - len(y))])
    n = write_pcap(a.out, to_ulaw_bytes(y))
    print(f"{n} packets in {a.out}")


if __name__ == "__main__":
    main()
