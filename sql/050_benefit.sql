-- Restoration benefit against a matched dynamic baseline (docs/CARBON.md, "Benefit against
-- matched controls"): the pixels of projects, of their leakage belts and a sample of control
-- pixels with their land-cover classes, yearly vegetation signal, elevation and slope
-- (raster.np_benefit_pixels), and the matching, benefits, balance, leakage and sink-rate
-- figures computed from them (benefit.np_matched_benefits, PL/Python + numpy).
create schema if not exists benefit;
comment on schema benefit is
  'Restoration benefit against matched controls (ecorest): matching, bootstrap, sink rates';

-- Helpers shared by the kernels below (kept in GD, like raster.np_kernels_loaded):
--   signal_stack   the yearly signal of a tile: the signal tiles placed on it, scale and offset
--                  applied, several epochs of one year reduced (mean or max) -> h x w x Y
--   class_stack    the land-cover tiles of every epoch -> h x w x L (-1 where no data)
--   classes_at     the class of every pixel in each year: the latest epoch <= the year, else
--                  the first epoch
--   class_tables   per class: density (agb + bgb), reference signal and plot calibration
--   biomass        t C/ha of each pixel and year (the rule of docs/CARBON.md): anchored
--                  D(class) x S / S_ref(class), or max(0, a + b S) x (1 + bgb/agb) where plots
--                  calibrate the class; D where there is no signal or no reference
create or replace function benefit.np_signal_loaded() returns boolean
language plpython3u as $$
if 'ecorest_biomass' in GD:
    return True
import numpy as np
if 'ecorest_place' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
decode, place = GD['ecorest_decode'], GD['ecorest_place']

def signal_stack(shape, g, sig, sig_years, scales, offsets, reduce):
    # h x w x Y, a view of a year-major array (each year's plane contiguous)
    years = sorted(set(sig_years or []))
    out = np.full((len(years),) + tuple(shape), np.nan)
    for j, y in enumerate(years):
        layers = []
        for t, ty, sc, of in zip(sig or [], sig_years or [], scales or [], offsets or []):
            if ty == y and t is not None:
                a = place(shape, g, t, fill=np.nan)
                if sc is not None and sc != 1:
                    a *= sc
                if of:
                    a += of
                layers.append(a)
        if len(layers) == 1:
            out[j] = layers[0]                      # one epoch that year: its values
        elif layers:
            stack = np.stack(layers)
            if not np.isnan(stack).all():
                with np.errstate(all='ignore'):
                    out[j] = (np.nanmax(stack, axis=0) if reduce == 'max'
                              else np.nanmean(stack, axis=0))
    return years, out.transpose(1, 2, 0)

def class_stack(shape, lc):
    cls = []
    for t in lc:
        if t is None:
            cls.append(np.full(shape, -1, np.int64))
        else:
            v, m = decode(t)
            cls.append(np.where(m, v.astype(np.int64), -1))
    return np.stack(cls, axis=-1)

def classes_at(cls, lc_years, years):
    lc_years = np.asarray(lc_years, np.int64)
    idx = [max(int(np.searchsorted(lc_years, y, side='right')) - 1, 0) for y in years]
    return cls[..., idx] if idx else cls[..., :0]

def lookup(d, cy):
    # d[class] at every pixel of the integer array cy, NaN for classes not in d
    if not d:
        return np.full(cy.shape, np.nan)
    keys = np.array(sorted(d), np.int64)
    vals = np.array([d[k] for k in keys], np.float64)
    pos = np.clip(np.searchsorted(keys, cy), 0, len(keys) - 1)
    return np.where(keys[pos] == cy, vals[pos], np.nan)

def biomass(cy, s, dens, sref, cal):
    # cy, s: arrays of the same shape (class, signal); dens/sref/cal: dicts by class
    d, ref = lookup(dens, cy), lookup(sref, cy)
    with np.errstate(all='ignore'):
        out = np.where(np.isfinite(s) & np.isfinite(ref) & (ref > 0), d * s / ref, d)
    for c, (a, b, f) in cal.items():
        on = (cy == c) & np.isfinite(s)
        out[on] = np.maximum(a + b * s[on], 0.0) * f
    return np.where(cy >= 0, out, np.nan)

def class_tables(codes, agb, bgb, reference, intercept, slope):
    # per class: agb + bgb density, reference signal, plot calibration (a, b, 1 + bgb/agb)
    dens, sref, cal = {}, {}, {}
    for c, a, b, r, ia, sl in zip(codes or [], agb or [], bgb or [], reference or [],
                                  intercept or [], slope or []):
        dens[int(c)] = float(a or 0) + float(b or 0)
        if r is not None:
            sref[int(c)] = float(r)
        if ia is not None and sl is not None and a:
            # plots calibrate agb on the signal; bgb follows at the class's bgb/agb ratio
            cal[int(c)] = (float(ia), float(sl), 1.0 + float(b or 0) / float(a))
    return dens, sref, cal

GD['ecorest_class_tables'] = class_tables
GD['ecorest_signal_stack'] = signal_stack
GD['ecorest_class_stack'] = class_stack
GD['ecorest_classes_at'] = classes_at
GD['ecorest_biomass'] = biomass
return True
$$;

-- One row per pixel of a tile position that lies in a project or a leakage belt (z: 2 x
-- project_version_id inside, 2 x id + 1 in the belt, 0 elsewhere), and per pixel of the
-- systematic sample (in_sample: a fixed hash of the pixel's grid position modulo `step` is 0,
-- the same pixels in every run): classes at every land-cover epoch (null: no data), the yearly
-- signal (sig: the signal tiles in time order with their years, scale and offset; several
-- epochs of one year are reduced with `reduce`, mean or max), elevation and slope (null where
-- the tile or pixel has none), and the pixel's row and column on the region grid (grid_row,
-- grid_col: its place in the order the matching reads the pixels, whatever order the tiles
-- were read in).
drop function if exists raster.np_benefit_pixels(bytea, bytea[], bytea[], integer[],
  double precision[], double precision[], bytea, bytea, integer, text);
create or replace function raster.np_benefit_pixels(z bytea, lc bytea[], sig bytea[],
                                                    sig_years integer[],
                                                    sig_scales double precision[],
                                                    sig_offsets double precision[],
                                                    dem bytea, slope bytea, step integer,
                                                    reduce text default 'mean')
returns table (zone_id integer, in_sample boolean, classes integer[],
               signal double precision[], elevation double precision,
               slope_deg double precision, grid_row bigint, grid_col bigint)
language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_biomass' not in GD:
    plpy.execute('select benefit.np_signal_loaded()')
decode, place = GD['ecorest_decode'], GD['ecorest_place']
ref = next((t for t in (lc or []) if t is not None), None)
if ref is None:
    return []
v0, _, g = decode(ref, with_geo=True)
shape = v0.shape
cls = GD['ecorest_class_stack'](shape, lc)
valid = (cls >= 0).any(axis=-1)
zone = place(shape, g, z) if z is not None else np.zeros(shape, np.int64)
# a fixed pseudo-random sample of the grid: hash of the pixel's global row and column
rows = np.round(g[3] / g[1]).astype(np.int64) + np.arange(shape[0], dtype=np.int64)
cols = np.round(g[2] / g[0]).astype(np.int64) + np.arange(shape[1], dtype=np.int64)
h = (rows[:, None] * 73856093) ^ (cols[None, :] * 19349663)
sample = (np.abs(h) % max(int(step or 1), 1)) == 0
keep = valid & ((zone != 0) | sample)
if not keep.any():
    return []
_years, sig_out = GD['ecorest_signal_stack'](shape, g, sig, sig_years, sig_scales, sig_offsets,
                                             reduce)
elev = place(shape, g, dem, fill=np.nan) if dem is not None else np.full(shape, np.nan)
slp = place(shape, g, slope, fill=np.nan) if slope is not None else np.full(shape, np.nan)
out = []
for r, c in zip(*np.nonzero(keep)):
    out.append((int(zone[r, c]), bool(sample[r, c]),
                [None if x < 0 else int(x) for x in cls[r, c]],
                [None if np.isnan(x) else float(x) for x in sig_out[r, c]],
                None if np.isnan(elev[r, c]) else float(elev[r, c]),
                None if np.isnan(slp[r, c]) else float(slp[r, c]),
                int(rows[r]), int(cols[c])))
return out
$$;
comment on function raster.np_benefit_pixels(bytea, bytea[], bytea[], integer[],
  double precision[], double precision[], bytea, bytea, integer, text) is
  'Pixels of projects, leakage belts and a fixed control sample with classes, yearly signal, '
  'elevation and slope (for benefit.np_matched_benefits)';

-- Matching, benefits, balance, leakage and sink-rate figures of every project from the pixels of
-- raster.np_benefit_pixels (parallel arrays, one element per pixel; classes and signal as 2-D
-- arrays, one column per land-cover epoch / signal year). Returns (project, section, jsonb):
--   'match'    counts, covariates used, start classes without controls, the note to show
--   'balance'  per covariate: means and standardised mean differences before / after matching
--   'period'   per monitoring period: project change, matched-control change, benefit and its
--              bootstrap 95 % interval, the leakage belt's change and its excess over controls
--   'total'    the benefit summed over the periods after the start, with its bootstrap interval
--   'sink'     annual sink rates before / after the start, relative changes against the
--              pre-project period and against the matched controls, bootstrap intervals,
--              pass / fail against the threshold
-- Rules (all stated in docs/CARBON.md):
--   stock of a pixel in year y (t C/ha, biomass): D(class_y) x S_y / S_ref(class_y), where
--     class_y is the class of the latest land-cover epoch <= y (the first epoch before it),
--     D the class's agb + bgb density, S_ref the mean signal of the class over all pixels of
--     the region and all years (int_signal_reference); where survey plots calibrate the
--     class's ecosystem type
--     (int_signal_calibration): max(0, intercept + slope x S_y) x (1 + bgb/agb of the class);
--     no signal that year (or density_method 'class'): D(class_y)
--   matching per project on the pre-project covariates: exact on the start class (class in the
--     year before the start), nearest `k` controls (with replacement) on the standardised
--     pre-project signal level and trend (up to match_pre_years years), elevation and slope,
--     each within `caliper` standard deviations; controls lie outside every project and belt
--   benefit of a period = sum over matched project pixels of (own change - mean change of its
--     controls) x pixel area; unmatched pixels are not credited (coverage says how many)
--   uncertainty: bootstrap over matched project pixels (each with its controls), seeded
--   sink rate of year y: index signals: the stock change from y - 1 to y; flux signals (gpp,
--     npp): the flux itself (x flux_to_t_per_ha, t C/ha/yr); pre-project = the
--     sink_baseline_years years before the start year, post = the sink_post_years years after
--     it; the start year itself straddles the start and is reported apart
-- (earlier signatures: without the plot calibration, without the signal reference)
drop function if exists benefit.np_matched_benefits(integer[], boolean[], integer[],
  double precision[], double precision[], double precision[], integer[], integer[], integer[],
  double precision[], bigint[], integer[], double precision, jsonb);
drop function if exists benefit.np_matched_benefits(integer[], boolean[], integer[],
  double precision[], double precision[], double precision[], integer[], integer[], integer[],
  double precision[], double precision[], double precision[], double precision[], bigint[],
  integer[], double precision, jsonb);
create or replace function benefit.np_matched_benefits(
    zone integer[], in_sample boolean[], classes integer[], signal double precision[],
    elevation double precision[], slope double precision[], lc_years integer[],
    sig_years integer[], codes integer[], agb double precision[], bgb double precision[],
    cal_intercept double precision[], cal_slope double precision[],
    signal_reference double precision[],
    projects bigint[], starts integer[], pixel_ha double precision, settings jsonb)
returns table (project_version_id integer, section text, data jsonb)
language plpython3u immutable as $$
import json
import numpy as np

cfg = json.loads(settings) if settings else {}
K = int(cfg.get('k', 3))
CALIPER = float(cfg.get('caliper_sd', 0.5))
PRE_MATCH = int(cfg.get('match_pre_years', 5))
PRE_SINK = int(cfg.get('sink_baseline_years', 3))
POST_SINK = int(cfg.get('sink_post_years', 3))
THRESHOLD = float(cfg.get('threshold_pct', 25.0)) / 100.0
DRAWS = int(cfg.get('bootstrap_draws', 1000))
SEED = int(cfg.get('seed', 42))
METHOD = cfg.get('density_method', 'signal')
FLUX = float(cfg['flux_to_t_per_ha']) if cfg.get('flux_to_t_per_ha') else None
def dumps(obj):
    # JSON of a row; NaN and infinities (not JSON) become null
    def clean(x):
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        if isinstance(x, (float, np.floating)):
            return float(x) if np.isfinite(x) else None
        if isinstance(x, np.integer):
            return int(x)
        if isinstance(x, np.bool_):
            return bool(x)
        return x
    return json.dumps(clean(obj))

if DRAWS < 100 or DRAWS > 100000:
    plpy.error(f'bootstrap_draws must be between 100 and 100000, got {DRAWS}')
if not zone or not projects:
    return []
Z = np.asarray(zone, np.int64)
n = Z.size
samp = np.asarray(in_sample, bool)
lc_y = np.asarray(lc_years, np.int64)
sg_y = np.asarray(sig_years or [], np.int64)
C = np.array([[-1 if x is None else x for x in row] for row in classes], np.int64).reshape(n, -1)
if sg_y.size:
    S = np.array([[np.nan if x is None else x for x in row] for row in signal],
                 float).reshape(n, -1)
else:
    S = np.full((n, 0), np.nan)
E = np.array([np.nan if x is None else x for x in (elevation or [None] * n)], float)
SL = np.array([np.nan if x is None else x for x in (slope or [None] * n)], float)
if 'ecorest_biomass' not in GD:
    plpy.execute('select benefit.np_signal_loaded()')
dens, sref, cal = GD['ecorest_class_tables'](codes, agb, bgb, signal_reference,
                                             cal_intercept, cal_slope)
if METHOD != 'signal' or not sg_y.size:
    sref, cal = {}, {}

# the years the stocks are evaluated at: the signal years, else the land-cover epochs
years = sg_y if sg_y.size else lc_y
Y = years.size

classes_at = GD['ecorest_classes_at']
CY = classes_at(C, lc_y, years)                                  # n x Y
stock = GD['ecorest_biomass'](CY, S if S.shape == CY.shape else np.full(CY.shape, np.nan),
                              dens, sref, cal)                  # t C/ha
col = {int(y): j for j, y in enumerate(years)}
periods = [(int(a), int(b)) for a, b in zip(lc_y[:-1], lc_y[1:]) if int(a) in col and int(b) in col]
flux = FLUX is not None and sg_y.size > 0

def yearly_rate(rows):
    # per pixel (rows) and year: the sink rate (t C/ha/yr), nan where it is not known
    r = np.full((len(rows), Y), np.nan)
    if flux:
        r = np.where(np.isfinite(S[rows]), S[rows] * FLUX, np.nan)
    else:
        for j in range(1, Y):
            if years[j] - years[j - 1] == 1:
                r[:, j] = stock[rows, j] - stock[rows, j - 1]
    return r

control_rows = np.nonzero((Z == 0) & samp)[0]
rng = np.random.default_rng(SEED)
out = []
for pv, s in zip(projects, starts):
    pv, s = int(pv), int(s)
    T = np.nonzero(Z == 2 * pv)[0]
    B = np.nonzero(Z == 2 * pv + 1)[0]
    if T.size == 0:
        out.append((pv, 'match', dumps({'project_pixels': 0, 'matched_pixels': 0,
                    'note': 'no pixel of the project lies on the land-cover grid'})))
        continue
    start_cls = classes_at(C, lc_y, [s - 1])[:, 0]
    pre = [y for y in sg_y.tolist() if s - PRE_MATCH <= y < s]
    cov_names, cov = [], []
    if pre:
        idx = [col[y] for y in pre]
        with np.errstate(all='ignore'):
            cov_names.append('signal_level')
            cov.append(np.nanmean(S[:, idx], axis=1))
        if len(pre) >= 3:
            x = np.asarray(pre, float) - np.mean(pre)
            yv = S[:, idx]
            ok = np.isfinite(yv)
            with np.errstate(all='ignore'):
                xm = np.where(ok, x, np.nan)
                xc = xm - np.nanmean(xm, axis=1, keepdims=True)
                yc = yv - np.nanmean(yv, axis=1, keepdims=True)
                slope_ = np.nansum(xc * yc, axis=1) / np.nansum(xc * xc, axis=1)
            slope_[ok.sum(axis=1) < 3] = np.nan
            cov_names.append('signal_trend')
            cov.append(slope_)
    cov_names += ['elevation_m', 'slope_deg']
    cov += [E, SL]
    # a covariate is used when every project pixel has it and some controls do
    used = [i for i, v in enumerate(cov)
            if np.isfinite(v[T]).all() and np.isfinite(v[control_rows]).any()]
    names = [cov_names[i] for i in used]
    X = np.stack([cov[i] for i in used], axis=1) if used else np.zeros((n, 0))
    pool = control_rows[np.isfinite(X[control_rows]).all(axis=1)] if used else control_rows
    sd = np.array([np.nanstd(np.concatenate([X[T, j], X[pool, j]])) for j in range(X.shape[1])])
    sd = np.where(sd > 0, sd, np.inf)          # a constant covariate cannot separate pixels
    matches = {}                                # project pixel -> its controls
    missing_classes = {}
    for c in np.unique(start_cls[T]):
        tc = T[start_cls[T] == c]
        cc = pool[start_cls[pool] == c]
        if c < 0:
            continue
        if cc.size == 0:
            missing_classes[int(c)] = int(tc.size)
            continue
        # project pixels a chunk at a time: about 2 million differences per chunk (16 MB)
        step_ = max(1, int(2e6 // (cc.size * max(X.shape[1], 1))))
        for lo in range(0, tc.size, step_):
            chunk = tc[lo:lo + step_]
            diff = (X[chunk][:, None, :] - X[cc][None, :, :]) / sd
            inside = (np.abs(diff) <= CALIPER).all(axis=2) if X.shape[1] else \
                np.ones((chunk.size, cc.size), bool)
            dist = np.where(inside, (diff ** 2).sum(axis=2), np.inf)
            kk = min(K, cc.size)
            near = np.argpartition(dist, kk - 1, axis=1)[:, :kk]
            for i, p in enumerate(chunk):
                sel = near[i][np.isfinite(dist[i, near[i]])]
                if sel.size:
                    matches[int(p)] = cc[sel]
    M = np.array(sorted(matches), np.int64)
    used_controls = np.unique(np.concatenate([matches[p] for p in M])) if M.size else M
    note = []
    if missing_classes:
        note.append('start class(es) without any control pixel outside projects and belts: '
                    + ', '.join(f'{c} ({m} px)' for c, m in sorted(missing_classes.items()))
                    + ' - their pixels get no benefit')
    if M.size < T.size - sum(missing_classes.values()):
        note.append(f'{T.size - M.size - sum(missing_classes.values())} project pixel(s) '
                    f'without a control within {CALIPER} SD')
    out.append((pv, 'match', dumps({
        'project_pixels': int(T.size), 'matched_pixels': int(M.size),
        'coverage': float(M.size / T.size), 'controls_used': int(used_controls.size),
        'control_pool': int(pool.size), 'belt_pixels': int(B.size), 'k': K,
        'caliper_sd': CALIPER, 'covariates': names, 'pre_years': pre,
        'unmatched_classes': sorted(missing_classes), 'signal_reference': sref,
        'calibrated_classes': sorted(cal),
        'note': '; '.join(note) or None})))
    # balance: standardised mean differences before (all candidate controls of the project's
    # start classes) and after matching (each project pixel's controls weighted 1/k)
    cand = pool[np.isin(start_cls[pool], np.unique(start_cls[T]))]
    for j, name in enumerate(names):
        xt = X[T, j]
        xc = X[cand, j]
        pooled = np.sqrt((np.var(xt) + (np.var(xc) if xc.size else 0.0)) / 2.0)
        row = {'covariate': name, 'mean_project': float(xt.mean()),
               'mean_controls_before': float(xc.mean()) if xc.size else None,
               'smd_before': float((xt.mean() - xc.mean()) / pooled)
               if xc.size and pooled > 0 else (0.0 if xc.size else None)}
        if M.size:
            xm = X[M, j]
            xa = np.array([X[matches[p], j].mean() for p in M])
            row['mean_controls_after'] = float(xa.mean())
            row['smd_after'] = float((xm.mean() - xa.mean()) / pooled) if pooled > 0 else 0.0
        else:
            row['mean_controls_after'] = row['smd_after'] = None
        out.append((pv, 'balance', dumps(row)))
    boot = rng.integers(0, M.size, (DRAWS, M.size)) if M.size else None
    # the benefit summed over the periods after the start, per bootstrap draw (the same draws
    # in every period, so the interval of the sum is a percentile of sums)
    total = {'benefit_t': 0.0, 'draws': np.zeros(DRAWS), 'periods': 0}
    # mean change of the control pool per class at t1 (the belt's expected change)
    for y1, y2 in periods:
        j1, j2 = col[y1], col[y2]
        d_all = stock[:, j2] - stock[:, j1]
        dt = d_all[T]
        fin = np.isfinite(dt)
        rec = {'year_t1': y1, 'year_t2': y2,
               'timing': 'after_start' if y1 >= s else ('before_start' if y2 <= s
                                                        else 'straddles_start'),
               'project_pixels': int(T.size),
               'project_change_t': float(np.nansum(dt) * pixel_ha)}
        if M.size:
            own = d_all[M]
            ctrl = np.array([np.nanmean(d_all[matches[p]]) if np.isfinite(d_all[matches[p]]).any()
                             else np.nan for p in M])
            dd = own - ctrl
            ok = np.isfinite(dd)
            ddz = np.where(ok, dd, 0.0)
            rec.update({'matched_pixels': int(ok.sum()),
                        'matched_change_t': float(np.nansum(np.where(ok, own, 0)) * pixel_ha),
                        'baseline_change_t': float(np.nansum(np.where(ok, ctrl, 0)) * pixel_ha),
                        'benefit_t': float(ddz.sum() * pixel_ha)})
            sums = ddz[boot].sum(axis=1) * pixel_ha
            if rec['timing'] == 'after_start':
                total['benefit_t'] += rec['benefit_t']
                total['draws'] += sums
                total['periods'] += 1
            lo_, hi_ = np.percentile(sums, [2.5, 97.5])
            rec.update({'benefit_p2_5_t': float(min(lo_, rec['benefit_t'])),
                        'benefit_p97_5_t': float(max(hi_, rec['benefit_t']))})
        else:
            rec.update({'matched_pixels': 0, 'matched_change_t': None,
                        'baseline_change_t': None, 'benefit_t': None,
                        'benefit_p2_5_t': None, 'benefit_p97_5_t': None})
        if B.size:
            db = d_all[B]
            c1 = CY[:, j1]
            expected = np.full(B.size, np.nan)
            for c in np.unique(c1[B]):
                pc = d_all[control_rows][c1[control_rows] == c]
                pc = pc[np.isfinite(pc)]
                if pc.size:
                    expected[c1[B] == c] = pc.mean()
            okb = np.isfinite(db) & np.isfinite(expected)
            rec.update({'belt_pixels': int(B.size),
                        'belt_change_t': float(np.nansum(db) * pixel_ha),
                        'belt_excess_change_t': float((db[okb] - expected[okb]).sum() * pixel_ha),
                        'belt_class_changed_ha': float((CY[B, j1] != CY[B, j2]).sum() * pixel_ha)})
        else:
            rec.update({'belt_pixels': 0, 'belt_change_t': None, 'belt_excess_change_t': None,
                        'belt_class_changed_ha': None})
        out.append((pv, 'period', dumps(rec)))
    if total['periods']:
        lo_, hi_ = np.percentile(total['draws'], [2.5, 97.5])
        out.append((pv, 'total', dumps({
            'periods': total['periods'], 'benefit_t': total['benefit_t'],
            'benefit_p2_5_t': min(lo_, total['benefit_t']),
            'benefit_p97_5_t': max(hi_, total['benefit_t'])})))
    # sink rates (t C/yr over the project's pixels), by year
    pre_y = [y for y in range(s - PRE_SINK, s) if y in col]
    post_y = [y for y in range(s + 1, s + 1 + POST_SINK) if y in col]
    rates_t = yearly_rate(T)
    rec = {'start_year': s, 'pre_years': pre_y, 'post_years': post_y,
           'kind': 'flux' if flux else 'stock_change', 'threshold_pct': THRESHOLD * 100}

    def window(r, ys):
        # mean over the window's years of the summed rate (t C/yr); nan if a year is unknown
        if not ys:
            return np.nan
        vals = [np.nansum(r[:, col[y]]) * pixel_ha if np.isfinite(r[:, col[y]]).any()
                else np.nan for y in ys]
        return float(np.mean(vals))

    rec['rate_pre_t_per_yr'] = window(rates_t, pre_y)
    rec['rate_post_t_per_yr'] = window(rates_t, post_y)
    rec['rate_start_year_t_per_yr'] = window(rates_t, [s]) if s in col else None
    reasons = []

    def rel(a, b):
        return a / b - 1.0 if np.isfinite(a) and np.isfinite(b) and b > 0 else None

    if not pre_y or not post_y:
        reasons.append(f'the signal has no year before ({s - PRE_SINK}..{s - 1}) or after '
                       f'({s + 1}..{s + POST_SINK}) the start' if sg_y.size
                       else 'no yearly vegetation signal: sink rates need one')
    rec['change_vs_pre_pct'] = None if rel(rec['rate_post_t_per_yr'], rec['rate_pre_t_per_yr']) \
        is None else 100 * rel(rec['rate_post_t_per_yr'], rec['rate_pre_t_per_yr'])
    if pre_y and post_y and rec['change_vs_pre_pct'] is None:
        reasons.append('the pre-project sink rate is not positive: a relative change is not '
                       'defined')
    # against the matched controls: the same years, over matched pixels
    rec['rate_post_matched_t_per_yr'] = rec['rate_post_controls_t_per_yr'] = None
    rec['change_vs_controls_pct'] = None
    if M.size and post_y:
        rm = yearly_rate(M)
        rc = np.stack([np.nanmean(yearly_rate(matches[p]), axis=0) for p in M])
        a, b = window(rm, post_y), window(rc, post_y)
        rec['rate_post_matched_t_per_yr'], rec['rate_post_controls_t_per_yr'] = a, b
        v = rel(a, b)
        rec['change_vs_controls_pct'] = None if v is None else 100 * v
        lo = []
        for draw in boot:
            v = rel(window(rm[draw], post_y), window(rc[draw], post_y))
            lo.append(np.nan if v is None else v)
        lo = np.asarray(lo)
        if np.isfinite(lo).any():
            p = np.nanpercentile(lo, [2.5, 97.5]) * 100
            rec['change_vs_controls_p2_5_pct'], rec['change_vs_controls_p97_5_pct'] = \
                float(p[0]), float(p[1])
    if rec['change_vs_pre_pct'] is not None:
        draws = rng.integers(0, T.size, (DRAWS, T.size))
        vals = []
        for draw in draws:
            v = rel(window(rates_t[draw], post_y), window(rates_t[draw], pre_y))
            vals.append(np.nan if v is None else v)
        p = np.nanpercentile(np.asarray(vals), [2.5, 97.5]) * 100
        rec['change_vs_pre_p2_5_pct'], rec['change_vs_pre_p97_5_pct'] = float(p[0]), float(p[1])
    for key in ('vs_pre', 'vs_controls'):
        v = rec.get(f'change_{key}_pct')
        rec[f'passes_{key}'] = None if v is None else bool(v >= THRESHOLD * 100)
    rec['note'] = '; '.join(reasons) or None
    out.append((pv, 'sink', dumps(rec)))
return out
$$;
comment on function benefit.np_matched_benefits(integer[], boolean[], integer[],
  double precision[], double precision[], double precision[], integer[], integer[], integer[],
  double precision[], double precision[], double precision[], double precision[],
  double precision[], bigint[], integer[], double precision, jsonb) is
  'Matched-control benefit, balance, leakage belt and sink-rate figures of every project';


-- Per zone of the whole region and of several zone sets at once (zones: one zone raster per
-- zone set on the tile's grid, null where the set has no zone on this tile; zone_no 0 = the
-- whole tile as zone 0, zone_no i = zones[i], zone ids <> 0 only), signal year and class of that
-- year: pixels, pixels with a signal, the sum of the signal and, for the classes the plots
-- calibrate (cal_codes with intercept a and slope b), the sum of max(0, a + b x signal) over
-- the pixels with a signal. The tiles are decoded once for the region and every zone set. The
-- biomass rule of benefit.np_signal_loaded is linear in the signal within a class apart from
-- the calibration's floor at 0, so these sums give every group's biomass (int_signal_stocks).
drop function if exists raster.np_signal_stocks(bytea, bytea[], integer[], bytea[], integer[],
  double precision[], double precision[], text, integer[], double precision[],
  double precision[], double precision[], double precision[], double precision[]);
create or replace function raster.np_signal_sums(zones bytea[], lc bytea[], lc_years integer[],
                                                 sig bytea[], sig_years integer[],
                                                 sig_scales double precision[],
                                                 sig_offsets double precision[], reduce text,
                                                 cal_codes integer[],
                                                 cal_intercept double precision[],
                                                 cal_slope double precision[])
returns table (zone_no integer, zone_id integer, year integer, class_code integer,
               pixels bigint, signal_pixels bigint, signal_sum double precision,
               calibrated_sum double precision)
language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_biomass' not in GD:
    plpy.execute('select benefit.np_signal_loaded()')
if 'ecorest_joint_zones' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
decode, check = GD['ecorest_decode'], GD['ecorest_check']
present, index_of = GD['ecorest_present'], GD['ecorest_index_of']
# signal epochs without a tile at this position (null, as raster.tile_stack gives them) are
# left out with their years, as if not given
global sig, sig_years, sig_scales, sig_offsets
keep = [k for k, t in enumerate(sig or []) if t is not None]
sig, sig_years = [sig[k] for k in keep], [sig_years[k] for k in keep]
sig_scales = [sig_scales[k] for k in keep] if sig_scales is not None else None
sig_offsets = [sig_offsets[k] for k in keep] if sig_offsets is not None else None
ref = next((t for t in (lc or []) if t is not None), None)
if ref is None or not sig_years:
    return []
v0, _, g = decode(ref, with_geo=True)
shape = v0.shape
P = v0.size
years, S = GD['ecorest_signal_stack'](shape, g, sig, sig_years, sig_scales, sig_offsets, reduce)
S = S.transpose(2, 0, 1).reshape(len(years), P)    # year-major: no copy
cls = GD['ecorest_class_stack'](shape, lc).reshape(P, -1)
# the land-cover epoch of every signal year (benefit.np_signal_loaded's classes_at: the latest
# epoch <= the year, else the first); the epochs used, and their valid pixels
lc_years_a = np.asarray(lc_years, np.int64)
epoch_of = [max(int(np.searchsorted(lc_years_a, y, side='right')) - 1, 0) for y in years]
used = sorted(set(epoch_of))
valid = {e: cls[:, e] >= 0 for e in used}
if not any(v.any() for v in valid.values()):
    return []
cal = {int(c): (float(a), float(b))
       for c, a, b in zip(cal_codes or [], cal_intercept or [], cal_slope or [])
       if c is not None and a is not None and b is not None}
classes = present(np.concatenate([cls[:, e][valid[e]] for e in used]))
nc = len(classes)
cal_k = {}                                      # calibrated classes by class index
for c, ab in cal.items():
    k = int(np.searchsorted(classes, c))
    if k < nc and classes[k] == c:
        cal_k[k] = ab
# the zone sets' zones of every pixel as one joint zone (sql/030_kernels.sql): the sums are
# taken once over the joint zones, then per zone set
ji, J, layers = GD['ecorest_joint_zones'](shape, g, zones)
G = J * (nc + 1)
# per epoch used: each pixel's group (joint zone, class index; nc = no class) and the pixels
# per group, and for the calibrated classes each pixel's intercept and slope (0 elsewhere, on:
# the calibrated pixels); per year: the pixels without a signal (few: counted on those alone),
# the sum of the signal and of max(0, a + b x signal) over the calibrated pixels with a signal
lut_a, lut_b, lut_on = np.zeros(nc + 1), np.zeros(nc + 1), np.zeros(nc + 1, bool)
for k, (a, b) in cal_k.items():
    lut_a[k], lut_b[k], lut_on[k] = a, b, True
key, n, cal_px = {}, {}, {}
for e in used:
    ci = np.where(valid[e], index_of(classes, np.where(valid[e], cls[:, e], classes[0])), nc)
    key[e] = ji * (nc + 1) + ci
    n[e] = np.bincount(key[e], minlength=G)
    if cal_k:
        cal_px[e] = (lut_a[ci], lut_b[ci], lut_on[ci])
Y = len(years)
t_n, t_sp, t_ss = (np.zeros((G, Y), np.int64), np.zeros((G, Y), np.int64), np.zeros((G, Y)))
t_cs = np.zeros((G, Y)) if cal_k else None
for j, e in enumerate(epoch_of):
    check()                                     # a cancellation point (sql/030_kernels.sql)
    s = S[j]
    fin = np.isfinite(s)
    all_fin = bool(fin.all())
    t_n[:, j] = n[e]
    if all_fin:
        t_sp[:, j] = n[e]
        s0 = s
    else:
        t_sp[:, j] = n[e] - np.bincount(key[e][~fin], minlength=G)
        s0 = np.where(fin, s, 0.0)
    t_ss[:, j] = np.bincount(key[e], weights=s0, minlength=G)
    if cal_k:
        a_px, b_px, on = cal_px[e]
        c = b_px * s0
        c += a_px
        np.maximum(c, 0.0, out=c)
        c *= on if all_fin else on & fin
        t_cs[:, j] = np.bincount(key[e], weights=c, minlength=G)
# (joint zone, class, year, sum): pixels, with a signal, signal sum, calibrated sum; counts
# are exact in float64
T = np.stack([t_n, t_sp, t_ss] + ([t_cs] if cal_k else []), axis=-1)
T = T.reshape(J, nc + 1, Y, -1)[:, :nc]
out = []
for no, zone_ids, t in GD['ecorest_joint_sums'](layers, T):
    for z, c, j in zip(*np.nonzero(t[..., 0])):
        zid = int(zone_ids[z])
        if no and zid == 0:                     # outside every zone of the set
            continue
        row = t[z, c, j]
        out.append((no, zid, int(years[j]), int(classes[c]), int(row[0]), int(row[1]),
                    float(row[2]), float(row[3]) if c in cal_k else None))
return out
$$;
comment on function raster.np_signal_sums(bytea[], bytea[], integer[], bytea[], integer[],
  double precision[], double precision[], text, integer[], double precision[],
  double precision[]) is
  'Per zone (region and several zone sets), signal year and class of one tile position: pixels, signal sums and the calibrated biomass sums';
