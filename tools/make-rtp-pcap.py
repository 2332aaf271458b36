#!/usr/bin/env python3
"""Writes a pcap of N PCMU RTP packets (20 ms, 160-byte payload of a 1 kHz tone) that
sipp's play_pcap_audio replays. Usage: make-rtp-pcap.py OUT.pcap [N] [SSRC] [LOUD]
With LOUD, packets after the first LOUD ones carry silence (µ-law 0xFF) instead of the tone."""
import math, struct, sys

def ulaw(sample):
    BIAS, CLIP = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    if sample < 0: sample = -sample
    sample = min(sample, CLIP) + BIAS
    exp, mask = 7, 0x4000
    while exp > 0 and not (sample & mask):
        exp -= 1; mask >>= 1
    mant = (sample >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF

def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    ssrc = int(sys.argv[3], 0) if len(sys.argv) > 3 else 0x1234ABCD
    loud = int(sys.argv[4]) if len(sys.argv) > 4 else n
    tone = bytes(ulaw(int(8000 * math.sin(2 * math.pi * 1000 * i / 8000))) for i in range(160))
    silence = bytes([0xFF]) * 160
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # Ethernet link type
        for i in range(n):
            rtp = struct.pack("!BBHII", 0x80, 0x80 if i == 0 else 0, i + 1, 160 * i, ssrc) + (tone if i < loud else silence)
            udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
            total = 20 + len(udp)
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, i & 0xFFFF, 0, 64, 17, 0,
                             bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
            csum = sum(struct.unpack("!10H", ip))
            csum = (csum & 0xFFFF) + (csum >> 16); csum = (csum & 0xFFFF) + (csum >> 16)
            ip = ip[:10] + struct.pack("!H", ~csum & 0xFFFF) + ip[12:]
            eth = b"\x00" * 12 + b"\x08\x00"
            frame = eth + ip + udp
            ts = i * 20000  # microseconds
            f.write(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(frame), len(frame)) + frame)

if __name__ == "__main__":
    main()
