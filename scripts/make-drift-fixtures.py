#!/usr/bin/python3
"""Writes the drift test vectors under test/vectors/ from scipy (the reference implementation).

Run with Debian's python3 (scipy 1.10.x):  /usr/bin/python3 scripts/make-drift-fixtures.py

Samples too large to store are stored as generator specs: mulberry32 (the same PRNG as
test/helpers/random.ts) followed only by IEEE basic operations (+, -, *, /, floor), which are
correctly rounded in both numpy and JavaScript, so the TypeScript side regenerates them bit for bit.
Smaller samples come from numpy with fixed seeds, rounded to 3 decimals (which also creates ties).
"""
import csv
import json
import math
import os
import warnings

import numpy as np
import scipy
from scipy import special, stats
from scipy.spatial.distance import jensenshannon

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'vectors')
SEATTLE = os.path.join(ROOT, 'node_modules', 'vega-datasets', 'data', 'seattle-weather.csv')
META = {'generator': 'scripts/make-drift-fixtures.py', 'scipy': scipy.__version__, 'numpy': np.__version__}
M32 = 0xFFFFFFFF


# ---------------------------------------------------------------- generated samples
def mulberry32(seed):
    """Same stream as seededRandom() in test/helpers/random.ts."""
    a = seed & M32

    def draw():
        nonlocal a
        a = (a + 0x6D2B79F5) & M32
        t = a
        t = ((t ^ (t >> 15)) * (t | 1)) & M32
        t = t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & M32)) & M32)
        return ((t ^ (t >> 14)) & M32) / 4294967296.0

    return draw


def generate(spec):
    """Mirror of generateSample() in test/helpers/drift-samples.ts; keep the operation order identical."""
    draw = mulberry32(spec['seed'])
    kind, n = spec['kind'], spec['n']
    out = []
    for _ in range(n):
        if kind == 'uniform':  # lo + (hi - lo) * u
            out.append(spec['lo'] + (spec['hi'] - spec['lo']) * draw())
        elif kind == 'bell':  # Irwin-Hall(4): shift + scale * (u1 + u2 + u3 + u4 - 2)
            s = draw() + draw() + draw() + draw()
            out.append(spec['shift'] + spec['scale'] * (s - 2))
        elif kind == 'int':  # shift + floor(u * k): heavy ties
            out.append(spec['shift'] + math.floor(draw() * spec['k']))
        else:
            raise ValueError(kind)
    return np.array(out, dtype=np.float64)


def rounded(a, digits=3):
    return [float(v) for v in np.round(a, digits)]


# ---------------------------------------------------------------- KS
def ks_case(name, x, y, spec=None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        r = stats.ks_2samp(x, y, alternative='two-sided', method='auto')
    fell_back = any('Exact calculation unsuccessful' in str(w.message) for w in caught)
    method = 'exact' if max(len(x), len(y)) <= 10000 and not fell_back else 'asymp'
    case = {'name': name, 'statistic': float(r.statistic), 'pvalue': float(r.pvalue), 'method': method,
            'location': float(r.statistic_location), 'sign': int(r.statistic_sign)}
    if spec is None:
        case['x'] = [float(v) for v in x]
        case['y'] = [float(v) for v in y]
    else:
        case['gen'] = spec
    return case


def ks_vectors():
    rng = np.random.default_rng(20240611)
    cases = []
    # tiny samples, exact arithmetic, ties
    cases.append(ks_case('n1=1 vs n2=1, different', [0.5], [1.5]))
    cases.append(ks_case('n1=1 vs n2=1, equal', [2.0], [2.0]))
    cases.append(ks_case('n1=1 vs n2=2', [1.0], [0.0, 2.0]))
    cases.append(ks_case('n1=2 vs n2=3', [1.0, 2.0], [1.5, 2.5, 3.5]))
    cases.append(ks_case('n1=3 vs n2=3 separated', [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]))
    cases.append(ks_case('n1=3 vs n2=2 reversed', [4.0, 5.0, 6.0], [1.0, 2.0]))
    cases.append(ks_case('identical samples', [1.0, 2.0, 2.0, 3.0, 7.0], [1.0, 2.0, 2.0, 3.0, 7.0]))
    cases.append(ks_case('equal n, h=1 (exact rounds above 1, falls back to asymp)',
                         [1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0, 6.0]))
    cases.append(ks_case('all ties across samples', [3.0] * 4, [3.0] * 7))
    cases.append(ks_case('integer data, many ties', rng.integers(0, 5, 40).astype(float).tolist(),
                         rng.integers(1, 6, 55).astype(float).tolist()))
    cases.append(ks_case('negative minimum side', [0.0, 0.0, 1.0, 1.0], [0.5, 0.5, 0.5, 2.0, 3.0, 3.0]))
    # numpy-seeded medium samples, rounded to 3 decimals
    for n1, n2, shift, scale in [(20, 20, 0.0, 1.0), (37, 53, 0.3, 1.0), (100, 100, 0.0, 1.0),
                                 (150, 90, 0.5, 1.2), (300, 450, 0.1, 1.0), (1000, 1000, 0.05, 1.0),
                                 (800, 1300, 0.0, 1.1), (400, 401, 2.0, 1.0)]:
        x = np.round(rng.normal(0.0, 1.0, n1), 3)
        y = np.round(rng.normal(shift, scale, n2), 3)
        cases.append(ks_case(f'normal n1={n1} n2={n2} shift={shift} scale={scale}', x, y))
    x = np.round(rng.exponential(1.0, 250), 1)
    y = np.round(rng.exponential(1.3, 260), 1)
    cases.append(ks_case('exponential rounded to 0.1 (ties) n1=250 n2=260', x, y))
    # large statistics: p near 1e-300 and underflow
    cases.append(ks_case('separated equal n=300 (p underflows)', np.arange(300.0), np.arange(300.0) + 1000))
    cases.append(ks_case('separated n1=10 n2=700', np.arange(10.0), np.arange(700.0) + 10))
    x = np.round(rng.normal(0.0, 1.0, 700), 3)
    y = np.round(rng.normal(2.5, 1.0, 650), 3)
    cases.append(ks_case('normal shift 2.5 n1=700 n2=650 (tiny p)', x, y))
    x = np.round(rng.normal(0.0, 1.0, 900), 3)
    y = np.round(rng.normal(2.5, 1.0, 900), 3)
    cases.append(ks_case('normal shift 2.5 equal n=900 (tiny p)', x, y))
    return cases


def ks_generated_vectors():
    """Large cases regenerated on the TypeScript side from a spec."""
    def u(seed, n, lo=0.0, hi=1.0):
        return {'seed': seed, 'n': n, 'kind': 'uniform', 'lo': lo, 'hi': hi}

    def bell(seed, n, shift=0.0, scale=1.0):
        return {'seed': seed, 'n': n, 'kind': 'bell', 'shift': shift, 'scale': scale}

    def integer(seed, n, k, shift=0):
        return {'seed': seed, 'n': n, 'kind': 'int', 'k': k, 'shift': shift}

    pairs = [
        # exact branch, max(n) <= 10000
        ('exact n=2000 vs 3000 bell', bell(1, 2000), bell(2, 3000, 0.05), 'fast'),
        ('exact n=10000 vs 10000 bell (square method)', bell(3, 10000), bell(4, 10000, 0.02), 'fast'),
        ('exact n=10000 vs 9999 bell', bell(5, 10000), bell(6, 9999, 0.03), 'fast'),
        ('exact n=4000 vs 6000 integers (ties)', integer(7, 4000, 30), integer(8, 6000, 31), 'fast'),
        ('exact n=3000 vs 2500 shifted (p ~ 1e-273)', bell(9, 3000), bell(10, 2500, 0.75), 'fast'),
        ('exact n=3000 vs 2500 shifted (p ~ 4e-310, subnormal)', bell(9, 3000), bell(10, 2500, 0.8), 'fast'),
        ('exact n=5000 vs 7000 uniform separated (p underflows)', u(11, 5000), u(12, 7000, 0.6, 1.6), 'heavy'),
        # asymptotic branch, max(n) > 10000
        ('asymp n=10001 vs 5000 bell', bell(13, 10001), bell(14, 5000, 0.03), 'fast'),
        ('asymp n=20000 vs 20000 bell', bell(15, 20000), bell(16, 20000, 0.01), 'fast'),
        ('asymp n=12000 vs 100 (en rounds to 99, n<=140 branch)', bell(17, 12000), bell(18, 100, 0.2), 'fast'),
        ('asymp n=15000 vs 60 large D (n<=140, smirnov branch)', bell(19, 15000), bell(20, 60, 0.8), 'fast'),
        ('asymp n=11000 vs 30 (n<=140, Durbin matrix branch)', bell(33, 11000), bell(38, 30), 'fast'),
        ('asymp n=30000 vs 3 (tiny en)', bell(21, 30000), bell(22, 3, 0.5), 'fast'),
        ('asymp n=50000 vs 50000 integers (ties)', integer(23, 50000, 1000), integer(24, 50000, 1001), 'fast'),
        ('asymp n=40000 vs 25000 shifted (tiny p)', bell(25, 40000), bell(26, 25000, 0.08), 'fast'),
        ('asymp n=20000 vs 20000 separated (p underflows)', u(27, 20000), u(28, 20000, 0.5, 1.5), 'fast'),
        ('asymp n=250000 vs 250000 (en > 100000, Pelz-Good)', bell(29, 250000), bell(30, 250000, 0.001),
         'heavy'),
        ('asymp n=20000 vs its first 19990 values (Durbin matrix branch)', u(31, 20000), u(31, 19990),
         'fast'),
    ]
    cases = []
    for name, sx, sy, weight in pairs:
        case = ks_case(name, generate(sx), generate(sy), spec={'x': sx, 'y': sy})
        case['weight'] = weight
        cases.append(case)
    return cases


def kolmogorov_vectors():
    """kstwo.sf(d, n) and smirnov(n, d) over every branch of scipy's _kolmogn."""
    kstwo = []
    for n in [1, 2, 3, 5, 10, 37, 99, 100, 140, 141, 365, 1000, 5000, 20000, 100000, 100001, 500000,
              2000000]:
        ds = set()
        for t in [0.3, 0.5, 0.75, 1.0, 1.5, 2.0]:  # n*d near the Ruben-Gambino cut-offs
            ds.add(t / n)
        for nx2 in [0.05, 0.3, 0.7, 0.76, 1.0, 2.0, 2.3, 3.9, 4.1, 10.0, 17.0, 19.0, 50.0, 300.0, 369.0,
                    371.0]:
            ds.add(math.sqrt(nx2 / n))
        for d in [0.01, 0.05, 0.1, 0.2, 0.3, 0.45, 0.5, 0.6, 0.9, 0.999, 1.0, 1 - 1.0 / n]:
            ds.add(d)
        for d in sorted(ds):
            if 0 < d <= 1:
                kstwo.append([n, d, float(stats.kstwo.sf(d, n))])
    smirnov = []
    for n in [1, 2, 5, 10, 50, 140, 1000, 1012, 1013, 10000, 100000, 1000001]:
        for d in [0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 0.7, 0.9, 0.99, 1.0 / n, 0.5 / n, 1 - 1.0 / n]:
            if 0 <= d <= 1:
                smirnov.append([n, d, float(special.smirnov(n, d))])
    return kstwo, smirnov


# ---------------------------------------------------------------- chi-squared and gamma
def chi2_vectors():
    gamma = []
    for a in [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.5, 5.0, 7.5, 10.0, 12.5, 20.0, 24.5, 25.0, 50.0, 100.0]:
        xs = {1e-3, 0.1, 0.5, 1.0, a * 0.5, a * 0.9, a, a + 0.5, a + 1.0, a * 1.5, a * 2.0, a + 10.0, 50.0,
              100.0, 300.0, 700.0}
        for x in sorted(xs):
            gamma.append([a, x, float(special.gammainc(a, x)), float(special.gammaincc(a, x))])
    lgamma = [[x, float(special.gammaln(x))] for x in
              [1e-8, 1e-3, 0.1, 0.5, 0.9, 1.0, 1.5, 2.0, 2.5, 3.0, 6.9, 7.0, 7.1, 10.0, 12.5, 25.0, 100.5, 1e4, 1e7]]
    sf = []
    for dof in [1, 2, 3, 4, 5, 9, 10, 18, 19, 20, 30, 49, 50, 100]:
        for x in [0.0, 1e-6, 0.1, 1.0, dof * 0.5, float(dof), dof + 2.0, dof * 2.0, dof * 5.0, 50.0, 200.0,
                  600.0, 1000.0, 1300.0, 1400.0, 1450.0, 1500.0, 2000.0]:
            sf.append([x, dof, float(stats.chi2.sf(x, dof))])
    rng = np.random.default_rng(7)
    tables = []

    def table(name, ref, cur):
        ref, cur = np.asarray(ref, dtype=float), np.asarray(cur, dtype=float)
        keep = (ref + cur) > 0
        t = np.vstack([ref[keep], cur[keep]])
        if keep.sum() < 2 or t.sum(axis=1).min() == 0:
            stat, p, dof = 0.0, 1.0, max(int(keep.sum()) - 1, 0)
        else:
            stat, p, dof, _ = stats.chi2_contingency(t, correction=False)
        tables.append({'name': name, 'ref': ref.tolist(), 'cur': cur.tolist(), 'statistic': float(stat),
                       'dof': int(dof), 'pvalue': float(p)})

    table('2x2', [10, 20], [30, 5])
    table('uniform vs uniform', [50] * 10, [48, 52, 50, 49, 51, 50, 50, 47, 53, 50])
    table('zeros on both sides dropped', [10, 0, 20, 0, 5], [12, 0, 18, 0, 9])
    table('one-sided empty bins', [0, 10, 20, 30, 0], [5, 10, 20, 30, 7])
    table('single non-empty column (dof 0)', [0, 17, 0], [0, 3, 0])
    table('reference all zero', [0, 0, 0], [1, 2, 3])
    table('both empty', [0, 0], [0, 0])
    table('huge statistic, p ~ 1e-300', [700, 0], [0, 675])
    table('p underflows to 0', [5000, 0, 0], [0, 0, 5000])
    table('fractional counts', [10.5, 20.25, 3.0], [11.0, 19.5, 4.75])
    for i, (k, n1, n2) in enumerate([(20, 365, 365), (20, 5000, 300), (51, 2000, 2500), (5, 40, 1000)]):
        p1 = rng.dirichlet(np.ones(k))
        p2 = 0.8 * p1 + 0.2 * rng.dirichlet(np.ones(k))
        table(f'random k={k} n1={n1} n2={n2}', rng.multinomial(n1, p1).tolist(),
              rng.multinomial(n2, p2).tolist())
    return {'gamma': gamma, 'lgamma': lgamma, 'chi2sf': sf, 'tables': tables}


# ---------------------------------------------------------------- binned metrics
def psi(ref, cur, floor=1e-4):
    p = np.maximum(ref / ref.sum(), floor)
    q = np.maximum(cur / cur.sum(), floor)
    return float(np.sum((q - p) * np.log(q / p)))


def binned_case(name, ref, cur):
    ref, cur = np.asarray(ref, dtype=float), np.asarray(cur, dtype=float)
    case = {'name': name, 'ref': ref.tolist(), 'cur': cur.tolist()}
    if ref.sum() == 0 or cur.sum() == 0:
        case.update({'psi': None, 'js': None, 'hellinger': None, 'ks': None})
        return case
    p, q = ref / ref.sum(), cur / cur.sum()
    case['psi'] = psi(ref, cur)
    case['js'] = float(jensenshannon(ref, cur, base=2))
    case['hellinger'] = float(np.sqrt(max(0.0, 1 - np.sum(np.sqrt(p * q)))))
    case['ks'] = float(np.max(np.abs(np.cumsum(p) - np.cumsum(q))))
    return case


def binned_vectors():
    rng = np.random.default_rng(11)
    cases = [
        binned_case('identical', [5, 10, 15, 20], [5, 10, 15, 20]),
        binned_case('proportional', [5, 10, 15, 20], [10, 20, 30, 40]),
        binned_case('zeros in both', [0, 10, 0, 20], [0, 12, 0, 18]),
        binned_case('one-sided empty bins', [0, 10, 20, 30, 0], [5, 10, 20, 30, 7]),
        binned_case('current only in a new bin', [10, 10, 0], [0, 0, 5]),
        binned_case('single bin', [7], [3]),
        binned_case('fractional counts', [1.5, 2.25, 0.0, 4.0], [2.0, 0.5, 1.0, 4.5]),
        binned_case('reference empty', [0, 0, 0], [1, 2, 3]),
        binned_case('current empty', [1, 2, 3], [0, 0, 0]),
        binned_case('zero-length', [], []),
    ]
    for k, n1, n2 in [(20, 365, 365), (20, 100000, 50), (21, 1000, 1000), (8, 30, 45), (51, 5000, 7000)]:
        p1 = rng.dirichlet(np.ones(k))
        p2 = 0.7 * p1 + 0.3 * rng.dirichlet(np.ones(k))
        cases.append(binned_case(f'random k={k} n1={n1} n2={n2}', rng.multinomial(n1, p1).tolist(),
                                 rng.multinomial(n2, p2).tolist()))
    return cases


# ---------------------------------------------------------------- Wasserstein
def wasserstein_vectors():
    rng = np.random.default_rng(5)
    cases = []

    def case(name, u, v):
        cases.append({'name': name, 'u': [float(a) for a in u], 'v': [float(a) for a in v],
                      'distance': float(stats.wasserstein_distance(u, v))})

    case('n=1 each', [0.0], [3.5])
    case('identical', [1.0, 2.0, 3.0], [3.0, 2.0, 1.0])
    case('unequal sizes', [0.0, 1.0, 3.0], [5.0, 6.0, 8.0, 9.0])
    case('ties', [1.0, 1.0, 1.0, 2.0], [1.0, 2.0, 2.0])
    case('negative values', [-3.0, -1.0, 0.5], [-2.0, 4.0])
    for n1, n2, shift in [(30, 45, 0.2), (365, 365, 1.0), (1000, 700, -0.3)]:
        case(f'normal n1={n1} n2={n2} shift={shift}', rounded(rng.normal(0, 1, n1)),
             rounded(rng.normal(shift, 1.5, n2)))
    case('integers', rng.integers(0, 10, 200).astype(float), rng.integers(2, 12, 150).astype(float))
    return cases


# ---------------------------------------------------------------- seattle-weather
def quantile_edges(ref, bins=20):
    """Sorted unique quantiles at i/bins, i = 1..bins-1 (numpy's default 'linear' method)."""
    levels = np.arange(1, bins) / bins
    return np.unique(np.quantile(ref, levels))


def bin_counts(values, edges):
    """Right-open bins [e_i, e_i+1) plus underflow (-inf, e_0) and overflow [e_last, inf)."""
    idx = np.searchsorted(edges, values, side='right')
    return np.bincount(idx, minlength=len(edges) + 1)


def seattle_vectors():
    with open(SEATTLE, newline='') as f:
        rows = list(csv.DictReader(f))
    ref = [r for r in rows if r['date'].startswith('2012-')]
    cur = [r for r in rows if r['date'].startswith('2015-')]
    numeric = {}
    for col in ['temp_max', 'temp_min', 'wind', 'precipitation']:
        x = np.array([float(r[col]) for r in ref])
        y = np.array([float(r[col]) for r in cur])
        edges = quantile_edges(x)
        rc, cc = bin_counts(x, edges), bin_counts(y, edges)
        ks = stats.ks_2samp(x, y, method='auto')
        keep = (rc + cc) > 0
        chi = stats.chi2_contingency(np.vstack([rc[keep], cc[keep]]), correction=False)
        numeric[col] = {
            'ref': x.tolist(), 'cur': y.tolist(), 'edges': edges.tolist(), 'refCounts': rc.tolist(),
            'curCounts': cc.tolist(), 'ks': float(ks.statistic), 'ks_p': float(ks.pvalue),
            'wasserstein': float(stats.wasserstein_distance(x, y)), 'chi2': float(chi[0]),
            'chi2_p': float(chi[1]), 'dof': int(chi[2]), 'js': float(jensenshannon(rc, cc, base=2)),
            'psi': psi(rc.astype(float), cc.astype(float)),
        }
    cats = sorted({r['weather'] for r in rows})
    rc = np.array([sum(r['weather'] == c for r in ref) for c in cats], dtype=float)
    cc = np.array([sum(r['weather'] == c for r in cur) for c in cats], dtype=float)
    keep = (rc + cc) > 0
    chi = stats.chi2_contingency(np.vstack([rc[keep], cc[keep]]), correction=False)
    weather = {'categories': cats, 'refCounts': rc.tolist(), 'curCounts': cc.tolist(), 'chi2': float(chi[0]),
               'chi2_p': float(chi[1]), 'dof': int(chi[2]), 'js': float(jensenshannon(rc, cc, base=2))}
    return {'source': 'vega-datasets seattle-weather.csv: 2012 rows (reference) vs 2015 rows (current)',
            'quantiles': 'numpy.quantile(ref, arange(1, 20) / 20), method linear; numpy.unique',
            'numeric': numeric, 'weather': weather}


def write(name, payload):
    path = os.path.join(OUT, name)
    with open(path, 'w') as f:
        json.dump({'meta': META, **payload}, f, separators=(',', ':'), allow_nan=False)
        f.write('\n')
    print(f'{path}: {os.path.getsize(path)} bytes')


def main():
    os.makedirs(OUT, exist_ok=True)
    kstwo, smirnov = kolmogorov_vectors()
    write('drift-ks.json', {'cases': ks_vectors(), 'generated': ks_generated_vectors(), 'kstwo': kstwo,
                            'smirnov': smirnov})
    write('drift-chi2.json', chi2_vectors())
    write('drift-binned.json', {'cases': binned_vectors()})
    write('drift-wasserstein.json', {'cases': wasserstein_vectors()})
    write('drift-seattle.json', seattle_vectors())


if __name__ == '__main__':
    main()
