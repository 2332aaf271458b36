#!/usr/bin/python3
"""Generates the keyword-spotting test set: caller phrases spoken by several espeak-ng voices
at several speeds, passed through the telephone band (8 kHz, G.711 mu-law) with and without
line noise, written as 8 kHz mu-law .raw files (what Baton's relay sees in a PCMU call) plus a
manifest.csv (file, keyword expected or empty, voice, speed, noise, phrase).

    tools/bench/kws/make_utterances.py OUT_DIR [--quick]

Needs espeak-ng, flite, numpy and scipy (python3-numpy, python3-scipy: installed with scikit-learn).
"""
import csv, os, subprocess, sys, wave
import numpy as np
from scipy.signal import resample_poly

# Phrases callers say to a voicebot. A keyword phrase counts as found when the spotter
# reports that keyword; a negative phrase must give nothing.
POSITIVE = [
    ("agent", "I want to talk to an agent"),
    ("agent", "agent please"),
    ("agent", "can I speak to an agent"),
    ("human", "let me talk to a human"),
    ("human", "I need a real human"),
    ("representative", "representative"),
    ("representative", "get me a representative please"),
    ("operator", "operator"),
    ("operator", "connect me to the operator"),
    ("person", "I want to speak to a person"),
    ("cancel", "I want to cancel my subscription"),
    ("cancel", "cancel my order"),
    ("fraud", "I want to report fraud"),
    ("fraud", "there is fraud on my card"),
]
NEGATIVE = [
    "what is my account balance",
    "I would like to pay my bill",
    "my internet is not working",
    "yes that is right",
    "no thank you",
    "can you repeat that",
    "I moved to a new address last month",
    "what time do you open tomorrow",
    "the weather is nice today",
    "please send me a new card",
]
# espeak-ng voices and variants, and flite's (Debian `flite`): the evaluation tunes
# thresholds on half of them and reports on the other half (tools/bench/kws/evaluate.py).
VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-029", "en-us+f3", "en-gb-x-rp+m3", "en-us+f2", "en-us-nyc",
          "flite:rms", "flite:slt", "flite:awb", "flite:kal16"]
SPEEDS = [140, 175]
NOISES = [None, 30.0]  # line noise: none, or white noise 30 dB below the speech level


def mulaw_encode(x):
    x = np.clip(x, -1.0, 1.0)
    return np.sign(x) * np.log1p(255 * np.abs(x)) / np.log1p(255)


def to_ulaw_bytes(pcm8k):
    """16-bit linear -> G.711 mu-law bytes (ITU-T G.711 segment coding), vectorised."""
    s = np.clip(np.round(pcm8k), -32768, 32767).astype(np.int32)
    sign = np.where(s < 0, 0x80, 0)
    m = np.minimum(np.abs(s), 32635) + 0x84
    exp = np.floor(np.log2(m)).astype(np.int32) - 7
    exp = np.clip(exp, 0, 7)
    mant = (m >> (exp + 3)) & 0x0F
    return (~(sign | (exp << 4) | mant) & 0xFF).astype(np.uint8).tobytes()


def speak(text, voice, speed, path):
    if voice.startswith("flite:"):
        # flite's speed: a duration stretch (1.0 = its default rate, about 175 words/min).
        subprocess.run(["flite", "-voice", voice[6:], "--setf", f"duration_stretch={175 / speed:.2f}",
                        "-t", text, "-o", path], check=True)
    else:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", path, text], check=True)
    with wave.open(path) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
    return x, rate


def main():
    out = sys.argv[1]
    quick = "--quick" in sys.argv
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    voices = VOICES[:2] if quick else VOICES
    speeds = SPEEDS[:1] if quick else SPEEDS
    noises = NOISES[:1] if quick else NOISES
    rows = []
    items = [(k, p) for k, p in POSITIVE] + [("", p) for p in NEGATIVE]
    n = 0
    for voice in voices:
        for speed in speeds:
            for noise in noises:
                for keyword, phrase in items:
                    n += 1
                    tmp = os.path.join(out, "tmp.wav")
                    x, rate = speak(phrase, voice, speed, tmp)
                    y = resample_poly(x, 8000, rate)  # telephone band
                    # 300 ms of silence before and after, as between a caller's turns.
                    y = np.concatenate([np.zeros(2400), y, np.zeros(2400)])
                    if noise is not None:
                        level = np.sqrt(np.mean(x ** 2)) or 1.0
                        y = y + rng.normal(0, level / (10 ** (noise / 20)), len(y))
                    y = np.clip(y, -32768, 32767)
                    name = f"u{n:04d}.ulaw"
                    with open(os.path.join(out, name), "wb") as f:
                        f.write(to_ulaw_bytes(y))
                    rows.append([name, keyword, voice, speed, "none" if noise is None else f"{noise:.0f}dB", phrase])
    os.remove(os.path.join(out, "tmp.wav"))
    with open(os.path.join(out, "manifest.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "keyword", "voice", "speed", "noise", "phrase"])
        w.writerows(rows)
    print(f"{len(rows)} utterances in {out}")


if __name__ == "__main__":
    main()
