#!/usr/bin/env python3
"""Expected `edgefleet drift --json` metrics for seattle-weather 2012 (reference) vs 2015 (current),
computed independently with numpy 1.24 / scipy 1.10.

Per numeric feature: ks_2samp (method='auto'), wasserstein_distance on the raw samples; then the
binned metrics on the reference's quantile bins (np.quantile(ref, arange(1, 20) / 20), np.unique,
right-open bins via searchsorted(side='right')): PSI (proportions floored at 1e-4), Jensen-Shannon
distance (base 2), Hellinger, KS over the bins, chi2_contingency(correction=False) with bins empty on
both sides dropped. For `weather`: its categories (count desc, then name) + __other__, JS, PSI, chi2.

Writes test/vectors/cli-seattle.json. Run: /usr/bin/python3 scripts/make-cli-fixtures.py
"""
import csv
import json
import os

import numpy as np
import scipy
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
SEATTLE = os.path.join(ROOT, 'node_modules', 'vega-datasets', 'data', 'seattle-weather.csv')
NUMERIC = ('precipitation', 'temp_max', 'temp_min', 'wind')


def binned(ref_counts, cur_counts):
    r = np.asarray(ref_counts, dtype=np.float64)
    c = np.asarray(cur_counts, dtype=np.float64)
    p, q = r / r.sum(), c / c.sum()
    pf, qf = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    keep = (r + c) > 0
    chi2, chi2_p, dof, _ = chi2_contingency(np.vstack([r[keep], c[keep]]), correction=False)
    return {
        'psi': float(np.sum((qf - pf) * np.log(qf / pf))),
        'js': float(jensenshannon(r, c, base=2)),
        'hellinger': float(np.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2))),
        'binned_ks': float(np.max(np.abs(np.cumsum(p) - np.cumsum(q)))),
        'chi2': float(chi2),
        'chi2_dof': int(dof),
        'chi2_p': float(chi2_p),
    }


def main():
    with open(SEATTLE, newline='') as f:
        rows = list(csv.DictReader(f))
    ref = [r for r in rows if r['date'].startswith('2012')]
    cur = [r for r in rows if r['date'].startswith('2015')]
    features = {}
    for name in NUMERIC:
        x = np.array([float(r[name]) for r in ref])
        y = np.array([float(r[name]) for r in cur])
        edges = np.unique(np.quantile(x, np.arange(1, 20) / 20))
        ref_counts = np.bincount(np.searchsorted(edges, x, side='right'), minlength=len(edges) + 1)
        cur_counts = np.bincount(np.searchsorted(edges, y, side='right'), minlength=len(edges) + 1)
        ks = ks_2samp(x, y)
        features[name] = {
            'type': 'numeric',
            'n': [len(x), len(y)],
            'missing': [0, 0],
            'edges': edges.tolist(),
            'ref_counts': ref_counts.tolist(),
            'cur_counts': cur_counts.tolist(),
            'ks': float(ks.statistic),
            'ks_p': float(ks.pvalue),
            'wasserstein': float(wasserstein_distance(x, y)),
            **binned(ref_counts, cur_counts),
        }
    labels = [r['weather'] for r in ref]
    tally = {k: labels.count(k) for k in set(labels)}
    categories = sorted(tally, key=lambda k: (-tally[k], k))
    ref_counts = [tally[k] for k in categories] + [0]
    cur_labels = [r['weather'] for r in cur]
    cur_counts = [cur_labels.count(k) for k in categories] + [sum(1 for v in cur_labels if v not in tally)]
    features['weather'] = {
        'type': 'categorical',
        'n': [len(labels), len(cur_labels)],
        'missing': [0, 0],
        'categories': categories,
        'ref_counts': ref_counts,
        'cur_counts': cur_counts,
        **{k: v for k, v in binned(ref_counts, cur_counts).items() if k not in ('binned_ks',)},
    }
    out = {
        'generator': f'scripts/make-cli-fixtures.py, numpy {np.__version__}, scipy {scipy.__version__}',
        'reference': 'seattle-weather.csv rows of 2012',
        'current': 'seattle-weather.csv rows of 2015',
        'features': features,
    }
    path = os.path.join(ROOT, 'test', 'vectors', 'cli-seattle.json')
    with open(path, 'w') as f:
        json.dump(out, f, indent=1, allow_nan=False)
        f.write('\n')
    print('wrote', os.path.relpath(path, ROOT))


if __name__ == '__main__':
    main()
