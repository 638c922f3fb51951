"""Golden vectors for label-free accuracy estimation (test/vectors/calibration.json), computed here
independently of the TypeScript: equal-mass histogram binning + pool-adjacent-violators, lookup on the
2^-20 grid, calibrated-confidence sums, the CBPE-style interval. Run: python3 scripts/make-calibration-vectors.py"""
import json
import math
import random

GRID = 2**20
Z95 = 1.959963984540054


def on_grid(x):
    # round half away from zero matches JS Math.round for non-negative values except exact .5 ties
    return math.floor(x * GRID + 0.5) / GRID


def fit(outcomes, bins):
    s = sorted(outcomes, key=lambda o: o[0])
    n = len(s)
    edges = []
    for k in range(1, bins):
        e = s[(k * n) // bins][0]
        if e > s[0][0] and (not edges or e > edges[-1]):
            edges.append(e)
    counts = [0] * (len(edges) + 1)
    correct = [0] * (len(edges) + 1)
    for score, ok in s:
        b = sum(1 for e in edges if e <= score)
        counts[b] += 1
        correct[b] += 1 if ok else 0
    blocks = []
    for i in range(len(counts)):
        blk = [None if i == 0 else edges[i - 1], counts[i], correct[i]]
        while blocks and blocks[-1][2] * blk[1] > blk[2] * blocks[-1][1]:
            top = blocks.pop()
            blk = [top[0], top[1] + blk[1], top[2] + blk[2]]
        blocks.append(blk)
    return {"edges": [b[0] for b in blocks[1:]], "counts": [b[1] for b in blocks], "correct": [b[2] for b in blocks]}


def lookup(cal, score):
    b = sum(1 for e in cal["edges"] if e <= score)
    return on_grid(cal["correct"][b] / cal["counts"][b])


def sums(ps):
    return {"count": len(ps), "sum": sum(ps), "sumSq": sum(on_grid(p * p) for p in ps)}


def cal_var(cal):
    n = sum(cal["counts"])
    return sum(m * (c / m) * (1 - c / m) for m, c in zip(cal["counts"], cal["correct"])) / (n * n)


def estimate(s, var):
    if s["count"] == 0:
        return None
    v = min(1, max(0, s["sum"] / s["count"]))
    half = Z95 * math.sqrt(max(0, s["sum"] - s["sumSq"]) / s["count"] ** 2 + var)
    return {"n": s["count"], "value": v, "low": max(0, v - half), "high": min(1, v + half)}


rng = random.Random(12)


def outcomes(n, truth):
    out = []
    for _ in range(n):
        score = round(0.3 + 0.7 * rng.random(), 6)
        out.append([score, rng.random() < truth(score)])
    return out


fits = []
for name, data, bins in [
    ("monotone scores, 200 rows, 10 bins", outcomes(200, lambda s: s), 10),
    ("overconfident scores, 300 rows, 8 bins", outcomes(300, lambda s: s * s), 8),
    ("flat accuracy pools everything", [[0.1 * (i % 10) + 0.05, i % 2 == 0] for i in range(40)], 4),
    ("ties stay in one bin", [[0.5 if i < 30 else 0.9, i % 3 != 0] for i in range(40)], 10),
    ("a dip pooled with its neighbour", [[0.1 + i / 1000, i < 6] for i in range(10)]
     + [[0.5 + i / 1000, i < 4] for i in range(10)] + [[0.9 + i / 1000, i < 9] for i in range(10)], 3),
    ("one bin", [[0.7, True], [0.8, False], [0.9, True]], 1),
]:
    fits.append([name, data, bins, fit([tuple(o) for o in data], bins)])

cal = {"method": "histogram-pav", "label": "weather", **fits[0][3]}
lookups = [[f"score {s}", s, lookup(cal, s)] for s in [0, 0.3, 0.45, 0.6, 0.75, 0.9, 1]]
lookups += [[f"edge {e}", e, lookup(cal, e)] for e in cal["edges"][:3]]

merge_parts = []
for k in range(4):
    ps = [on_grid(rng.random()) for _ in range(rng.randint(1, 30))]
    merge_parts.append(sums(ps))
total = {"count": sum(p["count"] for p in merge_parts), "sum": sum(p["sum"] for p in merge_parts),
         "sumSq": sum(p["sumSq"] for p in merge_parts)}

estimates = [
    ["100 predictions, no map variance", {"count": 100, "sum": 70, "sumSq": 52}, 0, None],
    ["100 predictions with the map's variance", {"count": 100, "sum": 70, "sumSq": 52}, cal_var(cal), None],
    ["certain predictions clamp at 1", {"count": 4, "sum": 4, "sumSq": 4}, 0.01, None],
    ["merged parts", total, cal_var(cal), None],
    ["nothing", {"count": 0, "sum": 0, "sumSq": 0}, 0, None],
]
for e in estimates:
    e[3] = estimate(e[1], e[2])

reports = [
    ["valid", {"count": 10, "sum": 7 + 2**-20, "sumSq": 5}, 10, None],
    ["count over inferences", {"count": 11, "sum": 7, "sumSq": 5}, 10, "calibrated_over_inferences"],
    ["sum over count", {"count": 10, "sum": 10.5, "sumSq": 5}, 10, "invalid"],
    ["sumSq over sum", {"count": 10, "sum": 5, "sumSq": 6}, 10, "invalid"],
    ["off the grid", {"count": 10, "sum": 0.1, "sumSq": 0}, 10, "invalid"],
    ["negative", {"count": 10, "sum": -1, "sumSq": 0}, 10, "invalid"],
    ["an extra key", {"count": 10, "sum": 5, "sumSq": 4, "raw": 0.7}, 10, "invalid"],
]

guardrails = [
    ["candidate holds up", {"count": 500, "sum": 350, "sumSq": 260}, {"count": 500, "sum": 345, "sumSq": 250}, 0.95, "ok", 345 / 350],
    ["candidate drops", {"count": 500, "sum": 350, "sumSq": 260}, {"count": 500, "sum": 300, "sumSq": 200}, 0.95, "breach", 300 / 350],
    ["too few predictions", {"count": 500, "sum": 350, "sumSq": 260}, {"count": 50, "sum": 30, "sumSq": 20}, 0.95, "insufficient_predictions", None],
    ["no calibrated data on the baseline", None, {"count": 500, "sum": 300, "sumSq": 200}, 0.95, "insufficient_predictions", None],
]

conditions = [
    ["defaults", {"estimatedAccuracyBelow": {"value": 0.6}}, {"estimatedAccuracyBelow": {"value": 0.6, "minPredictions": 1000, "windowMinutes": 1440, "consecutiveWindows": 1}}],
    ["value 0 refused", {"estimatedAccuracyBelow": {"value": 0}}, None],
    ["value above 1 refused", {"estimatedAccuracyBelow": {"value": 1.2}}, None],
    ["unknown key refused", {"estimatedAccuracyBelow": {"value": 0.6, "minLabeled": 5}}, None],
    ["window not dividing a day refused", {"estimatedAccuracyBelow": {"value": 0.6, "windowMinutes": 7}}, None],
]
guardrail_formats = [
    ["defaults", {"metric": "estimated_accuracy", "minRatio": 0.95}, {"metric": "estimated_accuracy", "minRatio": 0.95, "minPredictions": 200}],
    ["minRatio 0 refused", {"metric": "estimated_accuracy", "minRatio": 0}, None],
    ["minRatio above 2 refused", {"metric": "estimated_accuracy", "minRatio": 2.5}, None],
    ["unknown key refused", {"metric": "estimated_accuracy", "minRatio": 0.9, "maxRate": 0.1}, None],
]

json.dump(
    {
        "description": "Label-free accuracy estimation: calibration fit (equal-mass bins + PAV), lookup on the 2^-20 grid, calibrated sums and merges, the 95% interval, telemetry/1 calibrated bounds, the estimated_accuracy guardrail and estimatedAccuracyBelow. Generated by scripts/make-calibration-vectors.py.",
        "fit": fits,
        "calibration": cal,
        "calibrationVariance": cal_var(cal),
        "lookup": lookups,
        "merge": [merge_parts, total],
        "estimate": estimates,
        "report": reports,
        "guardrail": guardrails,
        "guardrails": guardrail_formats,
        "conditions": conditions,
    },
    open("test/vectors/calibration.json", "w"),
    indent=1,
)
