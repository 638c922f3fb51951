#!/usr/bin/env python3
"""Expected values for core/profile, computed independently with numpy.

Writes
  test/vectors/profile-quantiles.json  numeric profiles: np.quantile edges (default method
                                       'linear'), np.unique, counts via np.searchsorted(side='right')
                                       (= right-open bins), mean, population std (ddof=0), min, max
  test/vectors/binning.json            binIndex / categoryIndex cases, shared by node, workerd, Chromium

Run: /usr/bin/python3 scripts/make-profile-fixtures.py   (numpy 1.24; the output is committed)
"""
import csv
import json
import math
import os

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
SEATTLE = os.path.join(ROOT, 'node_modules', 'vega-datasets', 'data', 'seattle-weather.csv')


def numeric_case(name, values, bins):
    x = np.asarray(values, dtype=np.float64)
    q = np.arange(1, bins) / bins  # i / bins, correctly rounded, as quantileLevels does
    edges = np.unique(np.quantile(x, q)) if bins > 1 else np.array([])
    edges = edges + 0.0  # -0.0 -> 0.0
    counts = np.bincount(np.searchsorted(edges, x, side='right'), minlength=len(edges) + 1)
    return {
        'name': name,
        'bins': bins,
        'values': [float(v) for v in x],
        'edges': [float(e) for e in edges],
        'counts': [int(c) for c in counts],
        'mean': float(np.mean(x)),
        'std': float(np.std(x)),
        'min': float(np.min(x)),
        'max': float(np.max(x)),
    }


def seattle_columns():
    with open(SEATTLE, newline='') as f:
        rows = list(csv.DictReader(f))
    return {c: [float(r[c]) for r in rows] for c in ('precipitation', 'temp_max', 'temp_min', 'wind')}


def numeric_cases():
    rng = np.random.default_rng(20240501)
    cases = [numeric_case(f'seattle {c}', v, 20) for c, v in seattle_columns().items()]
    cases += [
        numeric_case('normal n=1000', rng.normal(10, 3, 1000), 20),
        numeric_case('lognormal n=777, 10 bins', rng.lognormal(0, 1.5, 777), 10),
        numeric_case('uniform n=50, 7 bins', rng.uniform(-1, 1, 50), 7),
        # Heavy ties: most quantiles coincide, so edges collapse to a handful.
        numeric_case('zero-inflated ints', np.concatenate([np.zeros(80), rng.integers(1, 4, 20)]), 20),
        numeric_case('few distinct values', np.repeat([1.5, 2.5, 4.0], [10, 30, 60]), 20),
        numeric_case('constant', np.full(25, 3.25), 20),
        numeric_case('single value', [42.0], 20),
        numeric_case('two values', [-1.0, 1.0], 20),
        numeric_case('three values, 2 bins', [3.0, 1.0, 2.0], 2),
        numeric_case('one bin', [5.0, 1.0, 3.0], 1),
        numeric_case('negative and -0', [-0.0, -2.5, -1e-300, 0.0, 1e-300, 7.0, -3.0, 2.0], 4),
        numeric_case('large magnitudes', rng.normal(0, 1e12, 300), 20),
        numeric_case('interpolation near 0.5', np.arange(0, 21) * 0.1, 20),
    ]
    return cases


def special(x):
    """JSON has no NaN/Infinity: encode them as strings the tests decode."""
    if math.isnan(x):
        return 'NaN'
    if math.isinf(x):
        return 'Infinity' if x > 0 else '-Infinity'
    return x


def bin_index(edges, x):
    if math.isnan(x):
        return -1  # missing, belongs to no bin
    return int(np.searchsorted(np.asarray(edges, dtype=np.float64), x, side='right'))


def binning_cases():
    edges = [0.0, 1.5, 2.0, 10.0]
    xs = [
        -1.0, -1e-300, -0.0, 0.0, 1e-300, 1.0, 1.5, np.nextafter(1.5, 0), np.nextafter(1.5, 2), 1.9999, 2.0,
        9.99, 10.0, 10.000001, 1e308, -1e308, math.inf, -math.inf, math.nan,
    ]
    cases = [[f'edges {edges} x={x!r}', edges, special(float(x)), bin_index(edges, float(x))] for x in xs]
    cases += [[f'no edges x={x!r}', [], special(x), bin_index([], x)] for x in (-5.0, 0.0, 5.0, math.nan)]
    cases += [[f'one edge x={x!r}', [3.0], special(x), bin_index([3.0], x)] for x in (2.0, 3.0, 4.0)]
    rng = np.random.default_rng(7)
    many = sorted(set(np.round(rng.normal(0, 5, 64), 2).tolist()))
    for x in np.concatenate([rng.choice(many, 20), np.round(rng.normal(0, 6, 20), 3)]):
        cases.append([f'64 edges x={float(x)!r}', many, float(x), bin_index(many, float(x))])
    return cases


def categorical_cases():
    cats = ['rain', 'sun', 'fog', '1', 'true', '0.5', 'Rain ']
    other = len(cats)
    values = ['rain', 'sun', 'fog', 'snow', 'Rain', 'Rain ', 1, 1.0, 0.5, True, False, '__other__', '', None, float('nan')]

    def key(v):
        # The documented categoryKey rule: strings as is (blank = missing), finite numbers as their JS form, booleans.
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        if isinstance(v, bool):
            return 'true' if v else 'false'
        if isinstance(v, (int, float)):
            return repr(int(v)) if float(v).is_integer() else repr(v)
        return None if v.strip() == '' else v

    out = []
    for v in values:
        k = key(v)
        expected = -1 if k is None else cats.index(k) if k in cats else other
        out.append([f'{v!r}', cats, special(v) if isinstance(v, float) else v, expected])
    return out


def write(name, data):
    path = os.path.join(ROOT, 'test', 'vectors', name)
    # One case per line: small diffs when a case changes, and still valid JSON.
    parts = []
    for key, value in data.items():
        if isinstance(value, list):
            rows = ',\n'.join('    ' + json.dumps(v, allow_nan=False) for v in value)
            parts.append(f'  {json.dumps(key)}: [\n{rows}\n  ]')
        else:
            parts.append(f'  {json.dumps(key)}: {json.dumps(value, allow_nan=False)}')
    with open(path, 'w') as f:
        f.write('{\n' + ',\n'.join(parts) + '\n}\n')
    print('wrote', os.path.relpath(path, ROOT))


if __name__ == '__main__':
    write('profile-quantiles.json', {
        'generator': 'scripts/make-profile-fixtures.py, numpy ' + np.__version__,
        'cases': numeric_cases(),
    })
    write('binning.json', {
        'generator': 'scripts/make-profile-fixtures.py, numpy ' + np.__version__,
        'numeric': binning_cases(),
        'categorical': categorical_cases(),
    })
