-- Habitat quality (InVEST 3.20.2 habitat_quality, METHODS §3.3): per-pixel kernels
-- (PL/Python + numpy on whole tiles). docs/SERVICES.md states the method; in short, for a
-- pixel x of land-cover class j
--   D_x = sum_r (w_r / sum w) x i_r(d_rx) x beta_x x S_jr          (degradation)
--   Q_x = H_j x (1 - D_x^z / (D_x^z + k^z)),  z = 2.5               (habitat quality)
-- where d_rx is the Euclidean distance from x to the NEAREST pixel of threat r whose value is
-- not 0 (InVEST 3.20 takes a distance transform of each threat raster; it does not convolve
-- and does not weight by the threat's value), i_r the linear or exponential decay of that
-- distance over the threat's max distance, beta_x the accessibility (1 where not given), H_j
-- the habitat suitability and S_jr the sensitivity of class j to threat r.

-- Distance decay of one threat on the grid of a template tile (any tile of the region grid:
-- its size and georeference only). tiles: the threat layer's tiles around it (those within
-- max_dist_m; tiles farther away change nothing); a pixel is a threat where its value
-- (x scale + offset) is valid and not 0. With R = max_dist_m / pixel size and d the distance
-- (pixels) to the nearest threat pixel, exactly as InVEST 3.20.2's _decay_distance:
--   linear (decay 0):      d > R -> 0, else (R - d) / R
--   exponential (decay 1): d > R -> 0, else exp(-2.99 d / R)
-- (so the exponential decay is exp(-2.99) = 0.0503 at d = R and 0 beyond). No threat pixel
-- within R gives 0. The exact Euclidean distance comes from two separable passes truncated at
-- R (vertical distance per column, the threat tiles reduced one at a time; then the minimum
-- over horizontal offsets |dx| <= R) over the template's rows and its columns plus a margin of
-- floor(R) pixels cut to the tiles given: memory about tile x (tile + 2 floor(R)) x 20 bytes
-- besides the tiles, time tile^2 x (2 R + 1).
-- Returns a one-band 32BF raster (0..1, no nodata) on the template's grid.
create or replace function raster.np_threat_decay(template bytea, tiles bytea[],
                                                  max_dist_m double precision, decay integer,
                                                  scale double precision default 1,
                                                  "offset" double precision default 0)
returns bytea language plpython3u immutable parallel safe cost 1000000 as $$
import math
import numpy as np
if 'ecorest_check' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
decode, encode, check = GD['ecorest_decode'], GD['ecorest_encode'], GD['ecorest_check']
if decay not in (0, 1):
    plpy.error('habitat quality: threat_decay must be 0 (linear) or 1 (exponential), not %r'
               % decay)
if max_dist_m is None or not max_dist_m > 0:
    plpy.error('habitat quality: threat_max_dist must be positive, not %r' % max_dist_m)
v0, _, g = decode(template, with_geo=True)
h, w = v0.shape
px = abs(g[0])
R = max_dist_m / px                      # InVEST: max_dist / abs(pixel size x), in pixels
m = int(math.floor(R))
sc = 1.0 if scale is None else scale
of = 0.0 if offset is None else offset
# threat pixels within reach, in pixel coordinates relative to the template's upper-left pixel
parts = []
for t in tiles or []:
    check()                              # a cancellation point (sql/030_kernels.sql)
    if t is None:
        continue
    tv, tm, tg = decode(t, with_geo=True)
    r0 = int(round((tg[3] - g[3]) / g[1]))
    c0 = int(round((tg[2] - g[2]) / g[0]))
    th, tw = tv.shape
    if r0 >= h + m or r0 + th <= -m or c0 >= w + m or c0 + tw <= -m:
        continue
    src = tm & ((tv.astype(np.float64) * sc + of) != 0)
    if src.any():
        parts.append((r0, c0, src))
out = np.zeros((h, w))
if parts:
    # columns of the canvas: the template's plus the threat tiles', cut to +- m pixels
    ca = max(-m, min(min(p[1] for p in parts), 0))
    cb = min(w + m, max(max(p[1] + p[2].shape[1] for p in parts), w))
    W = cb - ca
    # pass 1: per column, the vertical distance from each template row to the nearest threat
    # pixel: the nearest threat row above the template (up) and below it (down) reduced tile
    # by tile, then running max / min over the template's own rows; memory h x W, not
    # (h + 2m) x W
    big = np.int32(1 << 30)
    up = np.full(W, -big, np.int32)
    down = np.full(W, big, np.int32)
    inside = np.zeros((h, W), bool)
    for r0, c0, src in parts:
        check()
        cs, ce = max(c0, ca), min(c0 + src.shape[1], cb)
        if ce <= cs:
            continue
        block = src[:, cs - c0:ce - c0]
        cols = slice(cs - ca, ce - ca)
        n = block.shape[0]
        a0, a1 = max(0, -m - r0), min(n, -r0)          # rows -m .. -1
        if a1 > a0:
            sub = block[a0:a1]
            last = np.where(sub.any(axis=0), r0 + a1 - 1 - np.argmax(sub[::-1], axis=0), -big)
            up[cols] = np.maximum(up[cols], last.astype(np.int32))
        b0, b1 = max(0, h - r0), min(n, h + m - r0)    # rows h .. h + m - 1
        if b1 > b0:
            sub = block[b0:b1]
            first = np.where(sub.any(axis=0), r0 + b0 + np.argmax(sub, axis=0), big)
            down[cols] = np.minimum(down[cols], first.astype(np.int32))
        i0, i1 = max(0, -r0), min(n, h - r0)           # rows 0 .. h - 1
        if i1 > i0:
            inside[r0 + i0:r0 + i1, cols] |= block[i0:i1]
    check()
    rows = np.arange(h, dtype=np.int32)[:, None]
    above = np.where(inside, rows, -big)
    above[0] = np.maximum(above[0], up)
    np.maximum.accumulate(above, axis=0, out=above)
    below = np.where(inside, rows, big)
    below[-1] = np.minimum(below[-1], down)
    below = np.minimum.accumulate(below[::-1], axis=0)[::-1]
    del inside
    gv = np.minimum(rows - above, below - rows).astype(np.float64)
    del above, below
    gv[gv > m] = np.inf
    g2 = gv * gv                         # (h, W) squared vertical distances
    del gv
    has = np.isfinite(g2).any(axis=0)
    # pass 2: d^2(r, c) = min over dx of g2(r, c + dx) + dx^2, |dx| <= m
    d2 = np.full((h, w), np.inf)
    for dx in range(-m, m + 1):
        check()
        lo, hi = max(0, ca - dx), min(w, cb - dx)   # template columns c with c + dx on canvas
        if hi <= lo or not has[lo + dx - ca:hi + dx - ca].any():
            continue
        np.minimum(d2[:, lo:hi], g2[:, lo + dx - ca:hi + dx - ca] + float(dx * dx),
                   out=d2[:, lo:hi])
    d = np.sqrt(d2)
    with np.errstate(invalid='ignore', over='ignore'):
        if decay == 0:
            out = np.where(d > R, 0.0, (R - d) / R)
        else:
            out = np.where(d > R, 0.0, np.exp(-d * 2.99 / R))
    out[~np.isfinite(d)] = 0.0
return encode(template, [out])
$$;
comment on function raster.np_threat_decay(bytea, bytea[], double precision, integer,
                                           double precision, double precision) is
  'Linear or exponential decay of the distance to the nearest threat pixel (InVEST 3.20 habitat '
  'quality), on the grid of a template tile, from the threat tiles around it; 32BF';

-- Habitat quality and degradation of one land-cover tile. decays: one np_threat_decay tile
-- per threat (same grid), in the order of weights and of the columns of sensitivity;
-- sensitivity is the class x threat table row by row (class_codes[i], threat j at
-- i x n_threats + j; null = not sensitive); habitat the suitability of each class (a class on
-- the tile without one is an error naming it, as InVEST refuses a land-cover code missing from
-- its table). access: the accessibility tile (x scale + offset; null tile or nodata = 1, as
-- InVEST's access raster outside the access polygons). Weights are normalised by their sum.
-- Bands (32BF, nodata where the land cover has none): 1 habitat_quality, 2 degradation.
create or replace function raster.np_habitat_quality(
    landcover bytea, decays bytea[], weights double precision[], class_codes integer[],
    habitat double precision[], sensitivity double precision[], access bytea default null,
    access_scale double precision default 1, access_offset double precision default 0,
    half_saturation double precision default 0.05, label text default null)
returns bytea language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_place' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
decode, encode, check = GD['ecorest_decode'], GD['ecorest_encode'], GD['ecorest_check']
where = ' (land-cover epoch %s)' % label if label else ''
nt = len(decays or [])
if len(weights or []) != nt:
    plpy.error('habitat quality: %d decay tiles but %d weights' % (nt, len(weights or [])))
codes = np.asarray(class_codes or [], np.int64)
if len(habitat or []) != codes.size or len(sensitivity or []) != codes.size * nt:
    plpy.error('habitat quality: %d classes need %d habitat values and %d sensitivities, not '
               '%d and %d' % (codes.size, codes.size, codes.size * nt, len(habitat or []),
                              len(sensitivity or [])))
if half_saturation is None or not half_saturation > 0:
    plpy.error('habitat quality: the half-saturation constant k must be positive, not %r'
               % half_saturation)
w = np.asarray([np.nan if x is None else x for x in weights], np.float64)
if nt and (not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0):
    plpy.error('habitat quality: threat weights must be >= 0 with a positive sum, not %s'
               % list(weights))
lc, valid = decode(landcover)
shape = lc.shape
hab = np.asarray([np.nan if x is None else x for x in habitat], np.float64)
sens = np.asarray([0.0 if x is None else x for x in sensitivity], np.float64)
sens = sens.reshape(codes.size, nt) if nt else np.zeros((codes.size, 0))
order = np.argsort(codes)
codes, hab, sens = codes[order], hab[order], sens[order]
key = lc.astype(np.int64)
if codes.size == 0:                      # no class has parameters: every valid pixel is missing
    codes, hab, sens = np.zeros(1, np.int64) - 1, np.full(1, np.nan), np.zeros((1, nt))
pos = np.clip(np.searchsorted(codes, key), 0, codes.size - 1)
known = (codes[pos] == key) & np.isfinite(hab[pos])
missing = valid & ~known
if missing.any():
    plpy.error('habitat quality: land-cover class(es) %s have no habitat value in the services '
               'parameter set%s' % (', '.join(str(c) for c in np.unique(key[missing])), where))
acc = np.ones(shape)
if access is not None:                   # on the same grid, placed by its georeference
    _, _, geo = decode(landcover, with_geo=True)
    av = GD['ecorest_place'](shape, geo, access, fill=np.nan)
    acc = np.where(np.isnan(av), 1.0, av * access_scale + access_offset)
deg = np.zeros(shape)
for j, t in enumerate(decays):
    check()                              # a cancellation point (sql/030_kernels.sql)
    if t is None:
        plpy.error('habitat quality: no decay tile for threat %d%s' % (j + 1, where))
    dv, dm = decode(t)
    if dv.shape != shape:
        plpy.error('habitat quality: decay tile %s differs from the land-cover tile %s'
                   % (dv.shape, shape))
    deg += np.where(dm, dv.astype(np.float64), 0.0) * sens[pos, j] * (w[j] / w.sum()) * acc
z = 2.5
dz = deg ** z
quality = hab[pos] * (1.0 - dz / (dz + half_saturation ** z))
quality[~valid] = np.nan
deg[~valid] = np.nan
return encode(landcover, [quality, deg])
$$;
comment on function raster.np_habitat_quality(bytea, bytea[], double precision[], integer[],
  double precision[], double precision[], bytea, double precision, double precision,
  double precision, text) is
  'InVEST 3.20 habitat quality (band 1) and total degradation (band 2) of a land-cover tile '
  'from the distance decay of each threat, weights, sensitivities, accessibility and k; 32BF';
