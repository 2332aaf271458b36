#!/usr/bin/python3
"""Keyword-spotting figures for docs/performance.md: tunes each keyword's threshold on half
of the voices (train) and reports precision and recall per keyword on the other half (test),
with Baton's own spotter (`baton speech spot`, the code the gateway runs on live calls).

    tools/bench/kws/make_utterances.py /tmp/kws
    tools/bench/kws/evaluate.py /tmp/kws --baton .build/release/baton [--out result.json]

Precision: of the utterances where the spotter reported keyword K, the share that contained
K. Recall: of the utterances containing K, the share where it reported K. CPU: seconds of one
core per second of audio (the cost of one listened call).
"""
import argparse, csv, json, os, subprocess, sys, tempfile
from concurrent.futures import ThreadPoolExecutor

THRESHOLDS = [1e-1, 1e-3, 1e-5, 1e-10, 1e-15, 1e-20, 1e-30]


def default_list(baton):
    # The gateway's default phrases (thresholds are what is tuned): a run with --keywords
    # absent prints nothing about them, so they are mirrored here from KeywordModel.defaults.
    return [
        {"keyword": "agent", "phrases": ["agent", "an agent", "talk to an agent"]},
        {"keyword": "human", "phrases": ["human"]},
        {"keyword": "representative", "phrases": ["representative"]},
        {"keyword": "operator", "phrases": ["operator", "the operator"]},
        {"keyword": "person", "phrases": ["person", "a person"]},
        {"keyword": "cancel", "phrases": ["cancel"]},
        {"keyword": "fraud", "phrases": ["fraud"]},
    ]


def spot(baton, keywords, files, workers=2):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(keywords, f)
        path = f.name
    chunks = [files[i::workers] for i in range(workers)]

    def run(chunk):
        out = subprocess.run([baton, "speech", "spot", "--keywords", path] + chunk, check=True,
                             capture_output=True, text=True).stdout
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    with ThreadPoolExecutor(workers) as ex:
        lines = [l for part in ex.map(run, chunks) for l in part]
    os.unlink(path)
    found = {os.path.basename(l["file"]): set(l["keywords"]) for l in lines if "file" in l}
    cpu = sum(l["cpu_s"] for l in lines if l.get("summary"))
    audio = sum(l["audio_s"] for l in lines if l.get("summary"))
    return found, cpu / audio


def score(rows, found, keyword):
    tp = sum(1 for r in rows if r["keyword"] == keyword and keyword in found[r["file"]])
    fn = sum(1 for r in rows if r["keyword"] == keyword and keyword not in found[r["file"]])
    fp = sum(1 for r in rows if r["keyword"] != keyword and keyword in found[r["file"]])
    p = tp / (tp + fp) if tp + fp else 1.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * rec / (p + rec) if p + rec else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": rec, "f1": f1}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("set")
    ap.add_argument("--baton", default=".build/release/baton")
    ap.add_argument("--out")
    a = ap.parse_args()
    with open(os.path.join(a.set, "manifest.csv")) as f:
        rows = list(csv.DictReader(f))
    voices = sorted({r["voice"] for r in rows}, key=[r["voice"] for r in rows].index)
    train_voices, test_voices = voices[0::2], voices[1::2]
    train = [r for r in rows if r["voice"] in train_voices]
    test = [r for r in rows if r["voice"] in test_voices]
    base = default_list(a.baton)
    keywords = [k["keyword"] for k in base]
    best = {k: (None, -1.0) for k in keywords}
    sweep = {}
    for t in THRESHOLDS:
        found, _ = spot(a.baton, [dict(k, threshold=t) for k in base], [os.path.join(a.set, r["file"]) for r in train])
        for k in keywords:
            s = score(train, found, k)
            sweep.setdefault(k, []).append((t, s))
            if s["f1"] > best[k][1]:
                best[k] = (t, s["f1"])
        print(f"train threshold {t:.0e}: " + ", ".join(f"{k} F1 {sweep[k][-1][1]['f1']:.2f}" for k in keywords), file=sys.stderr)
    tuned = [dict(k, threshold=best[k["keyword"]][0]) for k in base]
    found, cpu = spot(a.baton, tuned, [os.path.join(a.set, r["file"]) for r in test])
    result = {"train_voices": train_voices, "test_voices": test_voices, "thresholds": {k: best[k][0] for k in keywords},
              "per_keyword": {k: score(test, found, k) for k in keywords}, "cpu_per_audio_second": cpu,
              "utterances": {"train": len(train), "test": len(test)}}
    # Recall by voice and by noise (all keywords together), false alarms on negatives.
    by = {}
    for r in test:
        if r["keyword"]:
            for key in (r["voice"], "noise " + r["noise"]):
                hit, n = by.get(key, (0, 0))
                by[key] = (hit + (r["keyword"] in found[r["file"]]), n + 1)
    result["recall_by"] = {k: v[0] / v[1] for k, v in by.items()}
    neg = [r for r in test if not r["keyword"]]
    result["negatives_with_a_keyword"] = sum(1 for r in neg if found[r["file"]]) / len(neg)
    pos = [r for r in test if r["keyword"]]
    tp = sum(1 for r in pos if r["keyword"] in found[r["file"]])
    reported = sum(len(found[r["file"]]) for r in test)
    result["overall"] = {"recall": tp / len(pos), "precision": tp / reported if reported else 1.0}
    text = json.dumps(result, indent=2)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print("\n| keyword | threshold | precision | recall | TP | FP | FN |\n|---|---|---|---|---|---|---|")
    for k in keywords:
        s = result["per_keyword"][k]
        print(f"| {k} | {best[k][0]:.0e} | {s['precision']:.2f} | {s['recall']:.2f} | {s['tp']} | {s['fp']} | {s['fn']} |")


if __name__ == "__main__":
    main()
