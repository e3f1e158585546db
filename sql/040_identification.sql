-- Restoration-area identification: per-pixel kernels (PL/Python + numpy on whole tiles) and the
-- small numerical functions of the weighting and accuracy steps (schema ident).

-- NDVI trend of one tile position over its epochs: epochs of the same year are reduced to one
-- annual value (max or mean), then per pixel the Theil-Sen slope (per year, actual years), the
-- Mann-Kendall S, Var(S) with the ties correction (annual values rounded to 1e-9 first), Z
-- (continuity-corrected), the two-sided p and the trend class:
--   1 significant degradation, 2 slight degradation, 3 stable, 4 slight improvement,
--   5 significant improvement, 0 too few valid years (< min_years), 6 not vegetated
--   (mean of the valid annual values, rounded to 1e-9, < ndvi_min).
-- |slope| < stable_slope is stable; otherwise p < alpha is significant.
-- Bands (32BF): 1 sen_slope, 2 mk_s, 3 mk_var_s, 4 mk_z, 5 mk_p, 6 n_years, 7 trend_class,
-- 8 ndvi of the latest valid year.
--
-- The per-pixel statistics run as one compiled loop when the server's Python has numba
-- (python3-numba): per pixel the pair slopes in a buffer, their median by a branch-free
-- quickselect, S from the same pairs, the ties of Var(S) from the sorted valid values, Z, p,
-- n, the mean and the latest value. It is compiled once per session (about 1 s of CPU, in a
-- thread while the call keeps checking for a cancel) and kept in GD; 4-5x the speed of the
-- numpy path on (pairs x pixels) arrays, which runs when numba is missing or when the session
-- sets ecorest.trend_impl = 'numpy' ('auto', the default, takes numba when present). Both
-- give the same bands, bit for bit (tests/test_trend_kernel.py).
create or replace function raster.np_ndvi_trend(
    tiles bytea[], years integer[], scales double precision[], offsets double precision[],
    reduce text default 'max', min_years integer default 8,
    stable_slope double precision default 0.0005, alpha double precision default 0.05,
    ndvi_min double precision default 0.1)
returns bytea language plpython3u immutable parallel safe cost 1000000 as $$
import math
import warnings
import numpy as np
if 'ecorest_config_option' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
decode, encode, check = GD['ecorest_decode'], GD['ecorest_encode'], GD['ecorest_check']
if reduce not in ('max', 'mean'):
    plpy.error('annual reduction must be max or mean, not %r' % reduce)
# epochs without a tile at this position (null, as raster.tile_stack gives them) are left out
# with their years, as if not given
global tiles, years, scales, offsets
keep = [k for k, t in enumerate(tiles or []) if t is not None]
tiles, years = [tiles[k] for k in keep], [years[k] for k in keep]
scales, offsets = [scales[k] for k in keep], [offsets[k] for k in keep]
in_parallel_mode = GD['ecorest_in_parallel_mode']     # sql/030_kernels.sql
config_option = GD['ecorest_config_option']
if in_parallel_mode():
    impl = (config_option(b'ecorest.trend_impl', True, False) or b'').decode()
else:
    if 'impl_plan' not in SD:
        SD['impl_plan'] = plpy.prepare("select current_setting('ecorest.trend_impl', true) as v")
    impl = plpy.execute(SD['impl_plan'])[0]['v']
impl = impl or 'auto'
if impl not in ('auto', 'numpy'):
    plpy.error("ecorest.trend_impl must be 'auto' or 'numpy', not %r" % impl)


def build_trend_pass():
    # the compiled per-pixel pass, or None when numba is missing (the numpy path then runs)
    try:
        import numba
    except ImportError:
        return None
    # x: annual values (years, pixels) with NaN, yr: the years; pixels p0..p1-1 of out (rows:
    # slope, S, Var(S), Z, p, n, mean, latest value). One explicit signature (C-contiguous
    # float64), compiled now: never recompiled for another layout.
    @numba.njit('void(float64[:, ::1], float64[::1], int64, int64, float64[:, ::1])',
                nogil=True)
    def trend_pass(x, yr, p0, p1, out):
        T = x.shape[0]
        v = np.empty(T)                          # the valid values of a pixel, in year order
        w = np.empty(T)                          # their years
        buf = np.empty(max(T * (T - 1) // 2, 1))  # their pair slopes
        for p in range(p0, p1):
            n = 0
            tot = 0.0
            last = np.nan
            for i in range(T):
                xi = x[i, p]
                if xi == xi:
                    v[n] = xi
                    w[n] = yr[i]
                    n += 1
                    tot += xi
                    last = xi
            k = 0
            s = 0.0
            for i in range(n):
                vi = v[i]
                wi = w[i]
                for j in range(i + 1, n):
                    d = v[j] - vi
                    buf[k] = d / (w[j] - wi)
                    k += 1
                    s += (d > 0) - (d < 0)       # branch-free: signs are unpredictable
            if k == 0:
                med = np.nan
            else:
                # the h-th smallest by quickselect, in place: median-of-three pivot, branch-free
                # partitions into < pivot | >= pivot and then, when h lies right of the
                # first, == pivot | > pivot (the signs of random slopes defeat branch
                # prediction; equal slopes, common on quantised NDVI, end the search)
                h = k // 2
                lo = 0
                hi = k - 1
                while True:
                    if hi <= lo:
                        med = buf[h]
                        break
                    x0 = buf[lo]
                    x1 = buf[(lo + hi) >> 1]
                    x2 = buf[hi]
                    piv = max(min(x0, x1), min(max(x0, x1), x2))
                    st = lo
                    for i in range(lo, hi + 1):
                        t = buf[i]
                        buf[i] = buf[st]
                        buf[st] = t
                        st += t < piv
                    if h < st:
                        hi = st - 1
                        continue
                    eq = st
                    for i in range(st, hi + 1):
                        t = buf[i]
                        buf[i] = buf[eq]
                        buf[eq] = t
                        eq += t <= piv
                    if h < eq:
                        med = piv
                        break
                    lo = eq
                if k % 2 == 0:                   # and the largest of the lower half
                    below = buf[0]
                    for q in range(1, h):
                        below = max(below, buf[q])
                    med = 0.5 * (med + below)
            # ties: runs of equal values among the sorted valid values (insertion sort)
            for i in range(1, n):
                t = v[i]
                j = i - 1
                while j >= 0 and v[j] > t:
                    v[j + 1] = v[j]
                    j -= 1
                v[j + 1] = t
            ties = 0.0
            run = 1.0
            for i in range(1, n):
                if v[i] == v[i - 1]:
                    run += 1.0
                else:
                    if run > 1.0:
                        ties += run * (run - 1.0) * (2.0 * run + 5.0)
                    run = 1.0
            if run > 1.0:
                ties += run * (run - 1.0) * (2.0 * run + 5.0)
            fn = float(n)
            var = (fn * (fn - 1.0) * (2.0 * fn + 5.0) - ties) / 18.0
            if s > 0:
                z = (s - 1.0) / math.sqrt(var)
            elif s < 0:
                z = (s + 1.0) / math.sqrt(var)
            else:
                z = 0.0
            out[0, p] = med
            out[1, p] = s
            out[2, p] = var
            out[3, p] = z
            out[4, p] = math.erfc(abs(z) / math.sqrt(2.0)) if math.isfinite(z) else np.nan
            out[5, p] = fn
            out[6, p] = tot / fn if n > 0 else np.nan
            out[7, p] = last
    return trend_pass


class Undo(Exception):
    pass


def quiet_check():
    # a cancellation point that starts no LLVM of PostgreSQL's JIT (jit off in a subtransaction
    # that is rolled back): numba's LLVM may be compiling in another thread meanwhile. None in
    # a parallel query (no SPI there): the cancel takes effect when the call returns.
    if in_parallel_mode():
        return
    try:
        with plpy.subtransaction():
            plpy.execute("select set_config('jit', 'off', true)")
            plpy.execute('select 1')
            raise Undo()
    except Undo:
        pass


def compiled_trend_pass():
    # compiled once per session (about 1 s of CPU) in a thread, so that a cancel or a
    # terminate during the compile is noticed as in the loops; a cancelled call leaves the
    # thread to finish and the next call takes its result
    if 'ecorest_trend_pass' in GD:
        return GD['ecorest_trend_pass']
    build = GD.get('ecorest_trend_build')
    if build is None:
        import signal
        import threading
        build = GD['ecorest_trend_build'] = {}

        def work():
            try:
                # signals (cancel, terminate) stay with the backend's own thread
                signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
                build['pass'] = build_trend_pass()
            except BaseException as e:          # handed to the calling thread
                build['error'] = e
        build['thread'] = threading.Thread(target=work, name='ecorest-trend-compile',
                                           daemon=True)
        build['thread'].start()
    while build['thread'].is_alive():
        build['thread'].join(0.25)
        quiet_check()
    del GD['ecorest_trend_build']
    if 'error' in build:
        plpy.error('compiling the NDVI trend pass with numba failed: %s: %s' % (
            type(build['error']).__name__, build['error']),
            hint="set ecorest.trend_impl = 'numpy' to use the numpy path")
    GD['ecorest_trend_pass'] = build['pass']  # None without numba: the numpy path
    return build['pass']


trend_pass = compiled_trend_pass() if impl == 'auto' else None

template = next((t for t in tiles if t is not None), None)
if template is None:
    return None
shape = decode(template)[0].shape
uyears = sorted(set(years))
T = len(uyears)
x = np.full((T, shape[0] * shape[1]), np.nan)  # (years, pixels): the annual values
row = {y: k for k, y in enumerate(uyears)}
count = {y: 0 for y in uyears}                 # epochs with a tile, per year
for t, y in zip(tiles, years):
    count[y] += t is not None
acc = {y: [] for y in uyears}
for t, y, sc, of in zip(tiles, years, scales, offsets):
    check()                                     # a cancellation point (sql/030_kernels.sql)
    if t is None:
        continue
    v, m = decode(t)
    if count[y] == 1:                           # the year's only epoch: straight into x
        a = x[row[y]]
        a[:] = v.ravel()                        # = v.astype(float64) * sc + of, in place
        a *= sc
        a += of
        a[~m.ravel()] = np.nan
    else:
        acc[y].append(np.where(m, v.astype(np.float64) * sc + of, np.nan))
with warnings.catch_warnings():
    warnings.simplefilter('ignore', RuntimeWarning)
    for y in uyears:
        if count[y] > 1:
            x[row[y]] = (np.nanmax if reduce == 'max' else np.nanmean)(
                np.stack(acc[y]), axis=0).ravel()
# annual values rounded to 1e-9 (far below any NDVI precision) so that values equal in exact
# arithmetic (e.g. means of the same months in another order) are ties, not +-1e-17 apart
np.round(x, 9, out=x)
yr = np.asarray(uyears, dtype=np.float64)
P = x.shape[1]
if trend_pass is not None:
    out = np.empty((8, P))
    step = max(1024, (1 << 22) // max(T * (T - 1) // 2, 1))   # ~4 M pairs (~50 ms) a chunk
    for c0 in range(0, P, step):
        check()
        trend_pass(x, yr, c0, min(P, c0 + step), out)
    slope, s, var, z, p, n, mean, last = out
else:
    valid = ~np.isnan(x)
    n = valid.sum(axis=0)
    i_idx, j_idx = np.triu_indices(T, 1)
    slope = np.full(P, np.nan)
    s = np.zeros(P)
    for c0 in range(0, P, 4096):                # pairwise work in chunks of pixels
        check()
        xs = x[:, c0:c0 + 4096]
        diff = xs[j_idx] - xs[i_idx]            # (pairs, chunk), NaN where a value is missing
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            slope[c0:c0 + 4096] = np.nanmedian(diff / (yr[j_idx] - yr[i_idx])[:, None], axis=0)
        s[c0:c0 + 4096] = np.nansum(np.sign(diff), axis=0)
    # ties: sizes of groups of equal values among the valid values of each pixel
    srt = np.sort(x, axis=0)                     # NaN sort last
    ties = np.zeros(P)
    run = np.ones(P)
    for k in range(1, T):
        check()
        same = (srt[k] == srt[k - 1])           # False where either is NaN
        ended = ~same & (run > 1)
        ties += np.where(ended, run * (run - 1) * (2 * run + 5), 0)
        run = np.where(same, run + 1, 1)
    ties += np.where(run > 1, run * (run - 1) * (2 * run + 5), 0)
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    with np.errstate(divide='ignore', invalid='ignore'):
        z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
    p = np.empty(P)
    for c0 in range(0, P, 65536):               # per pixel in Python: in chunks, checked
        check()
        p[c0:c0 + 65536] = [math.erfc(abs(v) / math.sqrt(2)) if np.isfinite(v) else np.nan
                            for v in z[c0:c0 + 65536]]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        mean = np.nanmean(x, axis=0)
    last = np.full(P, np.nan)
    for k in range(T):
        check()
        last = np.where(valid[k], x[k], last)
# the mean rounded to 1e-9 as the annual values: a mean equal to ndvi_min in exact arithmetic
# is not below it, whatever the order of summation
mean = np.round(mean, 9)
cls = np.full(P, 3.0)
sig = p < alpha
cls[(slope <= -stable_slope) & ~sig] = 2
cls[(slope <= -stable_slope) & sig] = 1
cls[(slope >= stable_slope) & ~sig] = 4
cls[(slope >= stable_slope) & sig] = 5
few = n < max(min_years, 3)
bare = ~few & (mean < ndvi_min)
cls[bare] = 6
cls[few] = 0
for a in (slope, s, var, z, p):
    a[few] = np.nan
nodata = n == 0
cls[nodata] = np.nan
bands = [slope, s, var, z, p, n.astype(np.float64), cls, last]
for b in bands[:6]:
    b[nodata] = np.nan
return encode(template, [b.reshape(shape) for b in bands])
$$;
comment on function raster.np_ndvi_trend(bytea[], integer[], double precision[],
  double precision[], text, integer, double precision, double precision, double precision) is
  'Theil-Sen slope, Mann-Kendall S/Var(S)/Z/p (ties corrected) and trend class of an NDVI tile stack';

-- Slope (degrees, Horn 1981) and the HJ 1167/1168 slope class (1: 0-5, 2: 5-15, 3: 15-25,
-- 4: 25-35, 5: 35-45, 6: >= 45 degrees) of a DEM tile; neighbours (any tiles of the same grid)
-- supply the one-pixel border; where there is no data (outside the boundary, nodata, the grid's
-- edge) the border is extrapolated on a plane (below), so a plane has its slope everywhere.
-- Bands (32BF): 1 slope_deg, 2 slope_class.
create or replace function raster.np_slope(center bytea, neighbours bytea[],
                                           z_factor double precision default 1)
returns bytea language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_horn_slope' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
decode, encode, place = GD['ecorest_decode'], GD['ecorest_encode'], GD['ecorest_place']
v, m, g = decode(center, with_geo=True)
h, w = v.shape
big = (h + 2, w + 2)
pgeo = (g[0], g[1], g[2] - g[0], g[3] - g[1])  # geo of the padded canvas
canvas = place(big, pgeo, center, fill=np.nan)
for nb in neighbours or []:
    if nb is not None:
        part = place(big, pgeo, nb, fill=np.nan)
        canvas = np.where(np.isnan(canvas), part, canvas)
canvas = canvas * z_factor
slope = GD['ecorest_horn_slope'](canvas, 1, g)       # plane extrapolation at data edges
slope[~m] = np.nan
cls = np.digitize(slope, [5, 15, 25, 35, 45]).astype(np.float64) + 1
cls[np.isnan(slope)] = np.nan
return encode(center, [slope, cls])
$$;
comment on function raster.np_slope(bytea, bytea[], double precision) is
  'Slope in degrees (Horn) and HJ slope class of a DEM tile, borders from neighbouring tiles; '
  'neighbours without data (outside the boundary, nodata, the grid edge) extrapolated on a plane';

-- Values of class pairs (a at t1, b at t2) on aligned tiles, e.g. the severity of a land-cover
-- transition: 32BF, 0 for pairs not listed, nodata where a or b has no data.
create or replace function raster.np_pair_lookup(a bytea, b bytea, from_codes integer[],
                                                 to_codes integer[], vals double precision[])
returns bytea language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_encode' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
decode, encode = GD['ecorest_decode'], GD['ecorest_encode']
va, ma = decode(a)
vb, mb = decode(b)
key = va.astype(np.int64) * 65536 + vb.astype(np.int64)
lut = np.asarray(from_codes or [], np.int64) * 65536 + np.asarray(to_codes or [], np.int64)
lv = np.asarray(vals or [], np.float64)
order = np.argsort(lut)
lut, lv = lut[order], lv[order]
out = np.zeros(va.shape)
if lut.size:
    pos = np.clip(np.searchsorted(lut, key), 0, lut.size - 1)
    hit = lut[pos] == key
    out[hit] = lv[pos[hit]]
out[~(ma & mb)] = np.nan
return encode(a, [out])
$$;
comment on function raster.np_pair_lookup(bytea, bytea, integer[], integer[],
                                          double precision[]) is
  'Value of each (class t1, class t2) pair on aligned tiles (e.g. transition severity), 32BF';

-- One band of a tile as physical values (value x scale + offset) in a 32BF raster.
create or replace function raster.np_physical(a bytea, band integer default 1,
                                              scale double precision default 1,
                                              "offset" double precision default 0)
returns bytea language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_encode' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
v, m = GD['ecorest_decode'](a, band)
out = np.where(m, v.astype(np.float64) * scale + offset, np.nan)
return GD['ecorest_encode'](a, [out])
$$;
comment on function raster.np_physical(bytea, integer, double precision, double precision) is
  'One band of a tile as physical values (x scale + offset), 32BF';

-- Steep cropland: 1 where the land-cover class is in `codes` and the slope (band 1 of s) is at
-- least min_deg, else 0; nodata where either has no data.
create or replace function raster.np_steep_class(lc bytea, s bytea, codes integer[],
                                                 min_deg double precision default 15)
returns bytea language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_encode' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
decode = GD['ecorest_decode']
vl, ml = decode(lc)
vs, ms = decode(s)
out = (np.isin(vl, np.asarray(codes or [], np.int64)) & (vs >= min_deg)).astype(np.float64)
out[~(ml & ms)] = np.nan
return GD['ecorest_encode'](lc, [out])
$$;
comment on function raster.np_steep_class(bytea, bytea, integer[], double precision) is
  'Flag (1/0) of pixels of the given classes on slopes of at least min_deg degrees';

-- Histogram of band `band` of a tile over [lo, hi] in `bins` equal bins (values outside are
-- counted in the first/last bin), plus the pixel count, sum and sum of squares.
create or replace function raster.np_histogram(a bytea, band integer, lo double precision,
                                               hi double precision, bins integer)
returns table (counts bigint[], n bigint, total double precision, total_sq double precision)
language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_finite_values' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
x = GD['ecorest_finite_values'](a, band)
idx = GD['ecorest_bin_index'](x, lo, hi, bins)
return [(np.bincount(idx, minlength=bins).tolist(), int(x.size), float(x.sum()),
         float((x * x).sum()))]
$$;
comment on function raster.np_histogram(bytea, integer, double precision, double precision,
                                        integer) is
  'Histogram (equal bins over lo..hi), count, sum and sum of squares of one band of a tile';

-- Statistics of band `band` of a tile: its valid finite pixels (not nodata), their sum, min
-- and max (pixels 0 and nulls for a tile without any). The first pass of the factor
-- statistics (int_factor_stats), once per tile in parallel workers.
create or replace function raster.np_band_stats(a bytea, band integer default 1)
returns table (pixels bigint, total double precision, min_value double precision,
               max_value double precision)
language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_finite_values' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
if a is None:
    return []
x = GD['ecorest_finite_values'](a, band)
if x.size == 0:
    return [(0, None, None, None)]
return [(int(x.size), float(x.sum()), float(x.min()), float(x.max()))]
$$;
comment on function raster.np_band_stats(bytea, integer) is
  'Valid pixels, sum, min and max of one band of a tile';

-- Weighted overlay of one tile position. Each factor tile (one band, physical values; null
-- where absent) is normalised by min-max between lo and hi (values clipped), reversed where
-- direction = -1, and weighted within its group (1 = degradation, 2 = importance); a pixel
-- missing a factor uses the other factors of its group (weights renormalised). Scores are 0..1.
--   composite = share_d x D + (1 - share_d) x I
-- With breaks given, D and I are graded into 3 classes (1 low, 2 medium, 3 high) and composite
-- into 5, and the matrix (9 grades, index (I class - 1) x 3 + D class - 1) gives the priority
-- grade. Bands (32BF): 1 grade, 2 composite, 3 D, 4 I, 5 D class, 6 I class, 7 composite class,
-- then one band per factor with its weighted contribution w x normalised value.
create or replace function raster.np_overlay(
    factors bytea[], lo double precision[], hi double precision[], direction integer[],
    grp integer[], weight double precision[], share_d double precision,
    d_breaks double precision[], i_breaks double precision[], c_breaks double precision[],
    matrix integer[])
returns bytea language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_check' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
decode, encode, check = GD['ecorest_decode'], GD['ecorest_encode'], GD['ecorest_check']
template = next((f for f in factors if f is not None), None)
if template is None:
    return None
shape = decode(template)[0].shape
num = {1: np.zeros(shape), 2: np.zeros(shape)}
den = {1: np.zeros(shape), 2: np.zeros(shape)}
contrib = []
for f, l, h, d, gr, w in zip(factors, lo, hi, direction, grp, weight):
    check()                                     # a cancellation point (sql/030_kernels.sql)
    if f is None:
        contrib.append(np.full(shape, np.nan))
        continue
    v, m = decode(f)
    # x = w * clip((v - l) / (h - l), 0, 1), reversed (1 - x) where direction < 0: in place,
    # the same operations in the same order as written out
    if h > l:
        x = v.astype(np.float64)
        x -= l
        x /= h - l
        np.clip(x, 0, 1, out=x)
    else:
        x = np.zeros(shape)
    if d < 0:
        np.subtract(1, x, out=x)
    x *= w
    ok = m & np.isfinite(v)
    np.add(num[gr], x, out=num[gr], where=ok)
    np.add(den[gr], w, out=den[gr], where=ok)
    x[~ok] = np.nan
    contrib.append(x)
with np.errstate(invalid='ignore', divide='ignore'):
    D = np.where(den[1] > 0, num[1] / den[1], np.nan)
    I = np.where(den[2] > 0, num[2] / den[2], np.nan)
if not (np.asarray(grp) == 1).any():
    D = np.zeros(shape)
if not (np.asarray(grp) == 2).any():
    I = np.zeros(shape)
C = share_d * D + (1 - share_d) * I
def grade(a, br):
    # class 1 + the number of breaks <= a (np.digitize of ascending breaks, without its binary
    # search per pixel); nan stays nan
    if all(b0 <= b1 for b0, b1 in zip(br, br[1:])):
        out = np.ones(shape)
        with np.errstate(invalid='ignore'):
            for b in br:
                out += a >= b
    else:
        out = np.digitize(a, br).astype(np.float64) + 1
    out[np.isnan(a)] = np.nan
    return out
if d_breaks is None or i_breaks is None or c_breaks is None:
    nan = np.full(shape, np.nan)
    g = dc = ic = cc = nan
else:
    dc, ic, cc = grade(D, d_breaks), grade(I, i_breaks), grade(C, c_breaks)
    lut = np.asarray(matrix, np.float64)
    ok = ~(np.isnan(dc) | np.isnan(ic))
    g = np.full(shape, np.nan)
    g[ok] = lut[((ic[ok] - 1) * 3 + dc[ok] - 1).astype(np.int64)]
return encode(template, [g, C, D, I, dc, ic, cc, *contrib])
$$;
comment on function raster.np_overlay(bytea[], double precision[], double precision[],
  integer[], integer[], double precision[], double precision, double precision[],
  double precision[], double precision[], integer[]) is
  'Normalised, weighted overlay of factor tiles into degradation, importance, composite scores and priority grades';

-- Per zone (a zone raster on the same grid; 0 = none; a null zone raster makes the whole tile
-- zone 0) and band of a tile: valid pixels and the sum of the band's values.
create or replace function raster.np_zonal(z bytea, a bytea)
returns table (zone_id integer, band integer, pixels bigint, total double precision)
language plpython3u immutable parallel safe cost 1000000 as $$
import struct
import numpy as np
if 'ecorest_check' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
decode, check = GD['ecorest_decode'], GD['ecorest_check']
if a is None:
    return []
v1, _, geo = decode(a, with_geo=True)
if z is not None:
    zone = GD['ecorest_place'](v1.shape, geo, z)
    inz = zone != 0
else:                                   # no zone raster: the whole tile is zone 0
    zone = np.zeros(v1.shape, np.int64)
    inz = np.ones(v1.shape, bool)
nb, = struct.unpack_from('<H', a, 3)
out = []
for b in range(1, nb + 1):
    check()                                     # a cancellation point (sql/030_kernels.sql)
    v, m = decode(a, b)
    ok = m & inz & np.isfinite(v)
    if not ok.any():
        continue
    zs = zone[ok]
    keys, inv = np.unique(zs, return_inverse=True)
    cnt = np.bincount(inv)
    tot = np.bincount(inv, weights=v[ok].astype(np.float64))
    out += [(int(k), b, int(c), float(t)) for k, c, t in zip(keys, cnt, tot)]
return out
$$;
comment on function raster.np_zonal(bytea, bytea) is
  'Valid pixels and value sums per zone and band of a tile (zone raster on the same grid)';

-- AHP: weights = normalised principal eigenvector of a reciprocal pairwise matrix (row-major,
-- n x n), lambda_max, CI = (lambda_max - n)/(n - 1), CR = CI/RI with Saaty's RI (n = 3..11:
-- 0.58 0.90 1.12 1.24 1.32 1.41 1.45 1.49 1.51; CR = 0 for n <= 2).
create or replace function ident.ahp(matrix double precision[], n integer,
    out weights double precision[], out lambda_max double precision,
    out ci double precision, out cr double precision, out ri double precision)
language plpython3u immutable as $$
import numpy as np
a = np.asarray(matrix, dtype=np.float64).reshape(n, n)
if (a <= 0).any():
    plpy.error('AHP matrix entries must be positive')
if not np.allclose(a * a.T, 1, rtol=1e-3):
    plpy.error('AHP matrix is not reciprocal: a[i][j] x a[j][i] must be 1')
vals, vecs = np.linalg.eig(a)
k = int(np.argmax(vals.real))
w = np.abs(vecs[:, k].real)
w = w / w.sum()
lam = float(vals[k].real)
RI = {1: 0.0, 2: 0.0, 3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41, 9: 1.45,
      10: 1.49, 11: 1.51}
if n not in RI:
    plpy.error('AHP with %d criteria: random index known for n = 1..11 only' % n)
ci_ = (lam - n) / (n - 1) if n > 1 else 0.0
cr_ = ci_ / RI[n] if RI[n] > 0 else 0.0
return (w.tolist(), lam, ci_, cr_, RI[n])
$$;
comment on function ident.ahp(double precision[], integer) is
  'AHP weights (principal eigenvector), lambda_max, CI, CR and Saaty RI of a pairwise matrix';

-- Natural breaks (Fisher-Jenks: k classes of least within-class squared deviation) of a value
-- distribution given as a histogram (equal bins over lo..hi; bin centres weighted by counts).
-- Returns k - 1 ascending breaks (a value equal to a break falls in the upper class).
-- Parallel restricted: it may stand in a parallel query (int_score_breaks reads the scores of
-- every tile in workers) but runs in the leader, where its cancellation point may call SPI.
create or replace function ident.histogram_breaks(counts bigint[], lo double precision,
                                                  hi double precision, k integer, method text)
returns double precision[] language plpython3u immutable parallel restricted as $$
import time
import numpy as np
# a cancellation point like raster.np_kernels_loaded's check() (sql/030_kernels.sql): a prepared
# `select 1` at most every 0.5 s lets a statement_timeout or a cancel stop the loop below
plan = SD.get('check') or SD.setdefault('check', plpy.prepare('select 1'))
due = [time.monotonic() + 0.5]
def check():
    if time.monotonic() >= due[0]:
        plpy.execute(plan)
        due[0] = time.monotonic() + 0.5
c = np.asarray(counts, dtype=np.float64)
nb = c.size
width = (hi - lo) / nb
centres = lo + width * (np.arange(nb) + 0.5)
if c.sum() == 0:
    return None
if method != 'natural_breaks':
    plpy.error('histogram_breaks computes natural_breaks only, not %r' % method)
keep = c > 0
x, wt = centres[keep], c[keep]
m = x.size
if m <= k:
    return [float((x[i] + x[i + 1]) / 2) for i in range(m - 1)] + [float(hi)] * (k - m)
# weighted Fisher-Jenks by dynamic programming on cumulative sums
cw = np.concatenate([[0], np.cumsum(wt)])
cx = np.concatenate([[0], np.cumsum(wt * x)])
cxx = np.concatenate([[0], np.cumsum(wt * x * x)])
cost = np.full((k + 1, m + 1), np.inf)
back = np.zeros((k + 1, m + 1), dtype=np.int64)
cost[0, 0] = 0
for cl in range(1, k + 1):
    for j in range(cl, m + 1):
        if not j & 63:
            check()
        i = np.arange(cl - 1, j)                 # the last class holds items i..j-1
        w_ = cw[j] - cw[i]
        s_ = cx[j] - cx[i]
        v = cost[cl - 1, i] + (cxx[j] - cxx[i]) - s_ * s_ / w_
        a = int(np.argmin(v))
        cost[cl, j], back[cl, j] = v[a], i[a]
cuts, j = [], m
for cl in range(k, 0, -1):
    i = back[cl, j]
    cuts.append(i)
    j = i
cuts = sorted(cuts)[1:]
return [float((x[i - 1] + x[i]) / 2) for i in cuts]
$$;
comment on function ident.histogram_breaks(bigint[], double precision, double precision, integer,
                                           text) is
  'Natural-breaks (Fisher-Jenks) class breaks of a histogram';

-- Accuracy of a map against reference samples, by stratified estimators (Olofsson et al. 2014,
-- Remote Sens. Environ. 148: 42-57): counts n[i][j] (row = map class i, column = reference
-- class j, row-major over `classes`) and the mapped area of each class. One row per class with
-- user's / producer's accuracy, the area-adjusted area estimate and their 95 % CI half-widths
-- (1.96 SE), plus overall accuracy (area-weighted), its CI and Cohen's kappa on the counts.
create or replace function ident.olofsson(counts double precision[], classes integer[],
                                          mapped_area double precision[])
returns table (class_code integer, map_samples bigint, ref_samples bigint,
               users_accuracy double precision, users_ci double precision,
               producers_accuracy double precision, producers_ci double precision,
               mapped_area double precision, estimated_area double precision,
               estimated_area_ci double precision, overall_accuracy double precision,
               overall_accuracy_ci double precision, sample_overall_accuracy double precision,
               kappa double precision)
language plpython3u immutable as $$
import numpy as np
q = len(classes)
n = np.asarray(counts, dtype=np.float64).reshape(q, q)
A = np.asarray(mapped_area, dtype=np.float64)
atot = A.sum()
W = A / atot
ni = n.sum(axis=1)
with np.errstate(invalid='ignore', divide='ignore'):
    p = W[:, None] * n / ni[:, None]            # estimated area proportions p_ij
    p[ni == 0] = 0
    pj = p.sum(axis=0)
    ua = np.diag(n) / ni
    pa = np.diag(p) / pj
    oa = np.trace(p)
    v_ua = ua * (1 - ua) / (ni - 1)
    v_oa = np.nansum(W ** 2 * ua * (1 - ua) / (ni - 1))
    # variance of the estimated area proportion of class j (Olofsson 2014 eq. 10)
    v_pj = np.array([np.nansum(W ** 2 * (n[:, j] / ni) * (1 - n[:, j] / ni) / (ni - 1))
                     for j in range(q)])
    # variance of producer's accuracy (Olofsson 2014 eq. 7)
    Nj = np.array([np.nansum(A / ni * n[:, j]) for j in range(q)])   # estimated area of j
    v_pa = np.zeros(q)
    for j in range(q):
        others = [i for i in range(q) if i != j]
        t1 = A[j] ** 2 * (1 - pa[j]) ** 2 * ua[j] * (1 - ua[j]) / (ni[j] - 1)
        t2 = pa[j] ** 2 * np.nansum(A[others] ** 2 * n[others, j] / ni[others]
                                    * (1 - n[others, j] / ni[others]) / (ni[others] - 1))
        v_pa[j] = (t1 + t2) / Nj[j] ** 2
N = n.sum()
po = np.trace(n) / N
pe = (n.sum(axis=1) * n.sum(axis=0)).sum() / N ** 2
kappa = (po - pe) / (1 - pe) if pe < 1 else np.nan
def f(v):
    return None if v is None or not np.isfinite(v) else float(v)
return [(int(classes[j]), int(ni[j]), int(n[:, j].sum()), f(ua[j]), f(1.96 * np.sqrt(v_ua[j])),
         f(pa[j]), f(1.96 * np.sqrt(v_pa[j])), float(A[j]), f(pj[j] * atot),
         f(1.96 * np.sqrt(v_pj[j]) * atot), f(oa), f(1.96 * np.sqrt(v_oa)), f(po), f(kappa))
        for j in range(q)]
$$;
comment on function ident.olofsson(double precision[], integer[], double precision[]) is
  'Confusion-matrix accuracy with stratified area-adjusted estimates and 95 % CIs (Olofsson et al. 2014)';

-- The q-quantile (0..1) of a distribution given as a histogram (equal bins over lo..hi),
-- interpolated linearly inside the bin that crosses it. Parallel safe, so that the queries
-- that call it can call their tile kernels in parallel workers.
create or replace function ident.histogram_quantile(counts bigint[], lo double precision,
                                                    hi double precision, q double precision)
returns double precision language sql immutable parallel safe as $$
  with b as (
    select i, c, sum(c) over (order by i) as cum, sum(c) over () as total
    from unnest(counts) with ordinality as u(c, i)
  )
  select lo + (hi - lo) / cardinality(counts)
              * (i - 1 + case when c > 0 then (q * total - (cum - c)) / c else 0 end)
  from b
  where total > 0 and cum >= q * total
  order by i
  limit 1
$$;
comment on function ident.histogram_quantile(bigint[], double precision, double precision,
                                             double precision) is
  'Quantile of a histogram (linear inside the crossing bin)';

-- Histograms of several bands of one tile in one pass (the tile is read once): for each band of
-- `bands`, like raster.np_histogram: equal bins over [lo, hi] (values outside counted in the
-- first/last bin), the pixel count, sum and sum of squares of its valid finite values.
create or replace function raster.np_histograms(a bytea, bands integer[], lo double precision,
                                                hi double precision, bins integer)
returns table (band integer, counts bigint[], n bigint, total double precision,
               total_sq double precision)
language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_finite_values' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
check, finite, bin_index = (GD['ecorest_check'], GD['ecorest_finite_values'],
                            GD['ecorest_bin_index'])
if a is None:
    return []
out = []
for b in bands or []:
    check()                                     # a cancellation point (sql/030_kernels.sql)
    x = finite(a, b)
    idx = bin_index(x, lo, hi, bins)
    out.append((b, np.bincount(idx, minlength=bins).tolist(), int(x.size), float(x.sum()),
                float((x * x).sum())))
return out
$$;
comment on function raster.np_histograms(bytea, integer[], double precision, double precision,
                                         integer) is
  'Histograms (equal bins over lo..hi), counts, sums and sums of squares of several bands of a tile, read once';

-- Zone statistics of one tile in one pass, for the whole region and several zone sets at once
-- (the tile is decoded once; raster.crosstab and raster.np_zonal per zone set read it once
-- each). zones: one zone raster per zone set on the same grid (0 = no zone; null where the
-- set has no zone on this tile). Rows: zone_no 0 = the whole tile as zone 0 (the region),
-- zone_no i = zones[i] (zone ids <> 0 only). With `value` set: pixels of band count_band
-- (default 1) equal to that whole value (the grade counts; pixels valid in that band); with
-- `value` null: for each band the valid finite pixels and the sum of the band's values.
drop function if exists raster.np_zone_stats(bytea, bytea[]);
create or replace function raster.np_zone_stats(a bytea, zones bytea[],
                                                count_band integer default 1)
returns table (zone_no integer, zone_id integer, band integer, value integer, pixels bigint,
               total double precision)
language plpython3u immutable parallel safe cost 1000000 as $$
import struct
import numpy as np
if 'ecorest_joint_zones' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
decode, check = GD['ecorest_decode'], GD['ecorest_check']
present, index_of = GD['ecorest_present'], GD['ecorest_index_of']
if a is None:
    return []
v1, m1, geo = decode(a, with_geo=True)
nb, = struct.unpack_from('<H', a, 3)
if not 1 <= count_band <= nb:
    plpy.error('count_band %d: the tile has bands 1 to %d' % (count_band, nb))
# the zone sets' zones of every pixel as one joint zone (sql/030_kernels.sql): every sum is
# taken once over the joint zones, then per zone set
ji, J, layers = GD['ecorest_joint_zones'](v1.shape, geo, zones)
per_layer = GD['ecorest_joint_sums']
out = []
# band count_band: pixels per (zone, whole value), as raster.crosstab counts them
vc, mc = decode(a, count_band) if count_band != 1 else (v1, m1)
mc = mc.ravel()
if mc.any():
    grade = vc.ravel().astype(np.int64)
    values = present(grade[mc] - int(grade[mc].min())) + int(grade[mc].min())
    nv = len(values)
    key = np.where(mc, ji * nv + index_of(values, np.where(mc, grade, values[0])), J * nv)
    counts = np.bincount(key, minlength=J * nv + 1)[:J * nv].reshape(J, nv)
    for no, keys, t in per_layer(layers, counts):
        for zk, vk in zip(*np.nonzero(t)):
            zid = int(keys[zk])
            if no and zid == 0:
                continue
            out.append((no, zid, count_band, int(np.int32(values[vk] & 0xFFFFFFFF)),
                        int(t[zk, vk]), None))
check()                                         # a cancellation point (sql/030_kernels.sql)
# every band: valid finite pixels and sums per zone, as raster.np_zonal sums them
cnt = np.zeros((J, nb), np.int64)
tot = np.zeros((J, nb))
n_joint = np.bincount(ji, minlength=J)
for b in range(1, nb + 1):
    v, m = (v1, m1) if b == 1 else (vc, mc) if b == count_band else decode(a, b)
    v = v.ravel()
    ok = (m.ravel() & np.isfinite(v)) if v.dtype.kind == 'f' else m.ravel()
    bad = ~ok
    if bad.any():                               # counted on the few pixels left out
        cnt[:, b - 1] = n_joint - np.bincount(ji[bad], minlength=J)
        v = np.where(ok, v, 0)
    else:
        cnt[:, b - 1] = n_joint
    # one joint zone (a tile inside one zone of every set, the common case): a plain sum
    tot[:, b - 1] = (v.sum(dtype=np.float64) if J == 1
                     else np.bincount(ji, weights=v, minlength=J))
for (no, keys, c), (_, _, t) in zip(per_layer(layers, cnt), per_layer(layers, tot)):
    for zk, bk in zip(*np.nonzero(c)):
        zid = int(keys[zk])
        if no and zid == 0:
            continue
        out.append((no, zid, int(bk) + 1, None, int(c[zk, bk]), float(t[zk, bk])))
return out
$$;
comment on function raster.np_zone_stats(bytea, bytea[], integer) is
  'Per zone (region and several zone sets) of a tile in one pass: value counts of one band and valid pixels and sums of every band';

-- Restoration patches: the labelling of one tile's grades (GD['ecorest_patch_label'](g): the
-- edge-connected parts of equal non-zero value of a 2-D integer array, labels 1..k numbered in
-- raster order of each part's first pixel, 0 where g is 0; the numbering of
-- GD['ecorest_label'] of sql/030_kernels.sql). With scipy in the server's Python
-- (python3-scipy, scripts/install-os-deps.sh) each value is labelled by scipy.ndimage.label
-- (4-connected, C) and the parts renumbered; without it, or when the session sets
-- ecorest.label_impl = 'numpy', GD['ecorest_label'] runs (runs of equal values hooked in numpy
-- passes, 2-3x slower). Both give the same labels (tests/test_patch_kernels.py).
create or replace function raster.np_patch_loaded() returns boolean
language plpython3u as $$
if 'ecorest_patch_label' in GD:
    return True
if 'ecorest_label' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
import numpy as np
try:
    from scipy import ndimage
except ImportError:
    ndimage = None
numpy_label = GD['ecorest_label']
config_option = GD['ecorest_config_option']

def patch_label(g):
    impl = (config_option(b'ecorest.label_impl', True, False) or b'').decode() or 'auto'
    if impl not in ('auto', 'numpy'):
        plpy.error("ecorest.label_impl must be 'auto' or 'numpy', not %r" % impl)
    if ndimage is None or impl == 'numpy':
        return numpy_label(g)
    flat = np.ascontiguousarray(g).ravel()
    if flat.size == 0:
        return np.zeros(g.shape, np.int32), 0
    out = np.zeros(flat.size, np.int64)
    firsts, total = [], 0
    for v in np.unique(flat):
        if v == 0:
            continue
        lab, k = ndimage.label((flat == v).reshape(g.shape))
        lab = lab.ravel()
        idx = np.flatnonzero(lab)
        lv = lab[idx]
        # scipy numbers the parts of one value in raster order too: a label's first pixel is
        # where the running maximum of the labels grows
        new = np.empty(lv.size, bool)
        new[0] = True
        new[1:] = lv[1:] > np.maximum.accumulate(lv)[:-1]
        firsts.append(idx[new])
        out[idx] = lv + total
        total += k
    if total == 0:
        return np.zeros(g.shape, np.int32), 0
    # all values together: parts numbered in raster order of their first pixel
    rank = np.zeros(total + 1, np.int32)
    rank[1 + np.argsort(np.concatenate(firsts), kind='stable')] = np.arange(1, total + 1)
    return rank[out].reshape(g.shape), total

GD['ecorest_patch_label'] = patch_label
return True
$$;

-- Restoration patches, step 1, per tile: the edge-connected parts of equal grade 1..max_grade
-- (band 1) inside the tile (raster order of their first pixel: part 1, 2, ...), each with its
-- pixel count, per band the valid finite pixels and their sum (as raster.np_zonal sums them)
-- and the keys of the tile borders it touches: one key per border pixel naming the pixel edge
-- it shares with the neighbouring tile (global row and column on the grid), so that the parts
-- of two tiles meeting there share the key. Parts of equal grade sharing a key are one patch.
-- A part that touches no tile border is a patch by itself: with min_ha given, such a part
-- smaller than min_ha (pixels x pixel_ha, with a relative margin of 1e-9 for rounding) can
-- never be reported and is left out (its number stays taken, so raster.np_patch_raster numbers
-- the parts alike); the band sums are computed for the returned parts only.
drop function if exists raster.np_patch_parts(bytea, integer);
create or replace function raster.np_patch_parts(a bytea, max_grade integer,
                                                 pixel_ha double precision default null,
                                                 min_ha double precision default null)
returns table (part integer, grade integer, pixels bigint, band_pixels bigint[],
               band_totals double precision[], edge_keys bigint[])
language plpython3u immutable parallel safe cost 1000000 as $$
import struct
import numpy as np
if 'ecorest_patch_label' not in GD:
    plpy.execute('select raster.np_patch_loaded()')
decode, check, label = GD['ecorest_decode'], GD['ecorest_check'], GD['ecorest_patch_label']
if a is None:
    return []
v, m, geo = decode(a, with_geo=True)
g = np.where(m & np.isfinite(v), v, 0).astype(np.int64)
g[(g < 1) | (g > max_grade)] = 0
lab, k = label(g)
if k == 0:
    return []
flat = lab.ravel()
fg = flat > 0
idx = flat[fg] - 1
pixels = np.bincount(idx, minlength=k)
grade = np.zeros(k, np.int64)
grade[idx] = g.ravel()[fg]
# global row / column of the tile's first pixel on the grid
h, w = lab.shape
r0 = int(round(geo[3] / geo[1]))
c0 = int(round(geo[2] / geo[0]))
OFF = 1 << 29
def key(r, c, d):                                # the edge right of (d 0) or below (d 1) (r, c)
    return ((np.asarray(r, np.int64) + OFF) << 33) | ((np.asarray(c, np.int64) + OFF) << 1) | d
rows, cols = np.arange(h), np.arange(w)
sides = [(lab[:, -1], key(r0 + rows, c0 + w - 1, 0)),    # right border
         (lab[:, 0], key(r0 + rows, c0 - 1, 0)),         # left border
         (lab[-1, :], key(r0 + h - 1, c0 + cols, 1)),    # bottom border
         (lab[0, :], key(r0 - 1, c0 + cols, 1))]         # top border
bl = np.concatenate([s[0] for s in sides])
bk = np.concatenate([np.broadcast_to(s[1], s[0].shape) for s in sides])
keep = bl > 0
bl, bk = bl[keep], bk[keep]
order = np.argsort(bl, kind='stable')
bl, bk = bl[order], bk[order]
cuts = np.searchsorted(bl, np.arange(1, k + 2))
# the parts returned: all, or those on a tile border and those large enough by themselves
wanted = np.ones(k, bool)
if pixel_ha is not None and min_ha is not None:
    wanted = (cuts[1:] > cuts[:-1]) | (pixels * pixel_ha >= min_ha * (1 - 1e-9))
if not wanted.any():
    return []
sel = wanted[flat - 1] & fg                      # pixels of the parts returned
li = flat[sel] - 1
nb, = struct.unpack_from('<H', a, 3)
bp, bt = [], []
for b in range(1, nb + 1):
    check()                                     # a cancellation point (sql/030_kernels.sql)
    vb, mb = decode(a, b)
    ok = (mb & np.isfinite(vb)).ravel()[sel]
    bp.append(np.bincount(li[ok], minlength=k))
    bt.append(np.bincount(li[ok], weights=vb.ravel()[sel][ok].astype(np.float64), minlength=k))
bp, bt = np.stack(bp, axis=1), np.stack(bt, axis=1)
return [(p + 1, int(grade[p]), int(pixels[p]), bp[p].tolist(), bt[p].tolist(),
         bk[cuts[p]:cuts[p + 1]].tolist() or None) for p in np.flatnonzero(wanted).tolist()]
$$;
comment on function raster.np_patch_parts(bytea, integer, double precision, double precision) is
  'Edge-connected parts of equal priority grade in one tile: pixels, band sums and tile-border keys';

-- Restoration patches, step 2: connected components of a graph given as edge lists (a[i] -
-- b[i]): for every node in an edge, the smallest node of its component (hooking and pointer
-- jumping over the distinct nodes).
create or replace function raster.np_components(a bigint[], b bigint[])
returns table (node bigint, root bigint)
language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_check' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
check = GD['ecorest_check']
if not a:
    return []
ea, eb = np.asarray(a, np.int64), np.asarray(b, np.int64)
nodes, inv = np.unique(np.concatenate([ea, eb]), return_inverse=True)
ia, ib = inv[:ea.size], inv[ea.size:]
lab = np.arange(nodes.size)
while True:
    check()                                     # a cancellation point (sql/030_kernels.sql)
    la, lb = lab[ia], lab[ib]
    d = la != lb
    if not d.any():
        break
    np.minimum.at(lab, np.maximum(la[d], lb[d]), np.minimum(la[d], lb[d]))
    while True:
        nxt = lab[lab]
        if np.array_equal(nxt, lab):
            break
        lab = nxt
return zip(nodes.tolist(), nodes[lab].tolist())
$$;
comment on function raster.np_components(bigint[], bigint[]) is
  'Connected components (smallest node) of a graph given as two edge lists';

-- Restoration patches, step 3, per tile: the parts of raster.np_patch_parts (same numbering)
-- given in `parts` painted with their patch code `codes` (a one-band 32BF raster; nodata
-- elsewhere), for polygonising the kept patches only.
create or replace function raster.np_patch_raster(a bytea, max_grade integer, parts integer[],
                                                  codes integer[])
returns bytea language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_patch_label' not in GD:
    plpy.execute('select raster.np_patch_loaded()')
decode, encode = GD['ecorest_decode'], GD['ecorest_encode']
label = GD['ecorest_patch_label']
if a is None or not parts:
    return None
v, m = decode(a)
g = np.where(m & np.isfinite(v), v, 0).astype(np.int64)
g[(g < 1) | (g > max_grade)] = 0
lab, k = label(g)
lut = np.full(k + 1, np.nan)
p = np.asarray(parts, np.int64)
lut[p] = np.asarray(codes, np.float64)
return encode(a, [lut[lab]])
$$;
comment on function raster.np_patch_raster(bytea, integer, integer[], integer[]) is
  'Parts of priority grade in one tile painted with their patch codes, 32BF';
