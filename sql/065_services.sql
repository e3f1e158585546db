-- Ecosystem services in the identification (docs/SERVICES.md): the importance class of each
-- service (极重要 / 重要 / 一般) from the distribution of its values over the region, and the
-- constraint mask applied to every factor before normalisation and grading.

-- Histogram of band `band` of a tile over [lo, hi] in `bins` equal bins (values outside are
-- counted in the first/last bin): pixel counts and value sums per bin. The value sums make the
-- cumulative-share breaks exact up to the spread of values inside one bin.
create or replace function raster.np_value_histogram(a bytea, band integer,
                                                     lo double precision, hi double precision,
                                                     bins integer)
returns table (counts bigint[], sums double precision[])
language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_finite_values' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
if a is None:
    return []
x = GD['ecorest_finite_values'](a, band)
idx = GD['ecorest_bin_index'](x, lo, hi, bins)
return [(np.bincount(idx, minlength=bins).tolist(),
         np.bincount(idx, weights=x, minlength=bins).tolist())]
$$;
comment on function raster.np_value_histogram(bytea, integer, double precision,
                                              double precision, integer) is
  'Pixel counts and value sums per equal bin of one band of a tile';

-- Class breaks by the cumulative-share rule (ecological red-line guideline, 2017): the values
-- are sorted from the largest down and summed; the value at which the running sum reaches
-- shares[1] (e.g. 50 %) of the total is the upper break (at or above: 极重要), the value at
-- shares[2] (80 %) the lower break (at or above: 重要; below: 一般). From a histogram with
-- per-bin value sums: inside the crossing bin the values are taken as spread evenly, so the
-- break lies within one bin width of the exact one. Negative amounts count as 0. Returns the
-- breaks ascending.
create or replace function ident.cumulative_share_breaks(counts bigint[],
                                                         sums double precision[],
                                                         lo double precision,
                                                         hi double precision,
                                                         shares double precision[])
returns double precision[] language plpython3u immutable as $$
import numpy as np
c = np.asarray(counts, dtype=np.float64)
s = np.asarray(sums, dtype=np.float64)
# a negative amount (e.g. a water balance where runoff and evapotranspiration exceed the
# rain) adds nothing to the service: such pixels stay below every break (一般)
s = np.clip(s, 0, None)
total = s.sum()
if c.sum() == 0 or not np.isfinite(total) or total <= 0:
    return None
width = (hi - lo) / c.size
out = []
for share in shares:
    target = share * total
    run = 0.0
    br = lo
    for i in range(c.size - 1, -1, -1):         # from the largest values down
        if s[i] <= 0:
            continue
        if run + s[i] >= target:
            # the bin's values spread evenly over [lo_i, hi_i]: the running sum grows
            # linearly as the cut moves down from hi_i to lo_i
            frac = (target - run) / s[i]
            br = lo + width * (i + 1 - frac)
            break
        run += s[i]
    out.append(float(br))
return sorted(out)
$$;
comment on function ident.cumulative_share_breaks(bigint[], double precision[],
                                                  double precision, double precision,
                                                  double precision[]) is
  'Class breaks at which the sum of the largest values reaches the given shares of the total';

-- Class of each pixel of band `band`: 1 below breaks[1], 2 below breaks[2], ... (a value equal
-- to a break falls in the upper class), then mapped through `scores` (one per class); pixels
-- with a nonzero `mask` (same grid; may be null) and pixels without data are nodata. 32BF.
create or replace function raster.np_grade_band(a bytea, band integer,
                                                breaks double precision[],
                                                scores double precision[],
                                                mask bytea default null)
returns bytea language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_encode' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
decode, encode = GD['ecorest_decode'], GD['ecorest_encode']
if a is None:
    return None
v, m = decode(a, band)
x = v.astype(np.float64)
if len(scores) != len(breaks) + 1:
    plpy.error('np_grade_band: %d breaks need %d scores, not %d'
               % (len(breaks), len(breaks) + 1, len(scores)))
cls = np.searchsorted(np.asarray(breaks, np.float64), x, side='right')
out = np.asarray(scores, np.float64)[np.clip(cls, 0, len(scores) - 1)]
ok = m & np.isfinite(x)
if mask is not None:
    mv, mm = decode(mask)
    ok &= ~(mm & (mv != 0))
out[~ok] = np.nan
return encode(a, [out])
$$;
comment on function raster.np_grade_band(bytea, integer, double precision[],
                                         double precision[], bytea) is
  'Class (through per-class scores) of one band by ascending breaks; masked pixels nodata';

-- The constraint mask of a tile position: 1 where a pixel is excluded from the identification
-- (its land-cover class is one of `codes`, or any of the `masks` tiles holds a nonzero value
-- there), 0 elsewhere, nodata where the land cover has no data. 8BUI.
create or replace function raster.np_constraint_mask(lc bytea, codes integer[], masks bytea[])
returns bytea language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_encode' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
decode, encode = GD['ecorest_decode'], GD['ecorest_encode']
if lc is None:
    return None
v, m = decode(lc)
out = np.isin(v, np.asarray(codes or [], v.dtype)) & m
for t in masks or []:
    if t is None:
        continue
    mv, mm = decode(t)
    if mv.shape != v.shape:
        plpy.error('mask tile differs in size from the land-cover tile: %s vs %s'
                   % (mv.shape, v.shape))
    out |= mm & (mv != 0)
res = np.where(m, out.astype(np.float64), np.nan)
return encode(lc, [res])
$$;
comment on function raster.np_constraint_mask(bytea, integer[], bytea[]) is
  'Constraint mask (1 excluded, 0 not) from excluded land-cover classes and mask layers';

-- A factor tile with the masked pixels (mask tile nonzero) set to nodata; the tile itself
-- where there is no mask.
create or replace function raster.np_apply_mask(a bytea, mask bytea)
returns bytea language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_encode' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
decode, encode = GD['ecorest_decode'], GD['ecorest_encode']
if a is None or mask is None:
    return a
v, m = decode(a)
mv, mm = decode(mask)
out = np.where(m & ~(mm & (mv != 0)), v.astype(np.float64), np.nan)
return encode(a, [out])
$$;
comment on function raster.np_apply_mask(bytea, bytea) is
  'One-band tile with the pixels excluded by a constraint mask set to nodata';
