-- Ecosystem services and sensitivity, per tile (PL/Python + numpy; docs/SERVICES.md):
--   raster.np_water_yield   annual water yield and AET as InVEST 3.20.2 computes them
--                           (Budyko-Zhang) and the HJ 1173 water conservation (water balance)
--   raster.np_wind_erosion  RWEQ potential and actual wind soil loss and sand fixation
--   raster.np_sensitivity   soil-erosion, land-desertification and rocky-desertification
--                           sensitivity classes (2017 ecological red-line guideline / HJ 1174)
-- Every input tile lies on the region grid; it is placed onto the land-cover tile (a layer may
-- cover only part of it), scale and offset applied. Missing pixels stay NaN and give nodata.

-- Helpers shared by the kernels below (kept in GD, like raster.np_kernels_loaded):
--   svc_layer   a layer's tile placed on the land-cover tile as physical values (NaN: none)
--   svc_lut     per-class values of the land-cover tile (NaN: nodata or class not listed)
--   svc_canvas  a DEM (centre tile and its neighbours) on the land-cover tile padded by r px
--   svc_range   max - min of the canvas in a (2r + 1)^2 window (no-data cells ignored)
-- (the slope of a padded canvas is GD['ecorest_horn_slope'] of sql/030_kernels.sql, the one
-- raster.np_slope uses)
--   svc_fvc     vegetation cover 0..1: an fvc layer, or NDVI by the dimidiate pixel model
--               (NDVI - NDVI_soil) / (NDVI_veg - NDVI_soil), clipped to 0..1
--   svc_grade   a factor graded 1, 3, 5 (, 7, 9) by its breaks (half-open: b_k <= x < b_k+1;
--               reversed for a factor whose higher values are less sensitive)
--   svc_classes the geometric mean of graded factors into classes 1..n by breaks (x <= b_k)
create or replace function raster.np_services_loaded() returns boolean
language plpython3u as $$
if 'ecorest_svc_grade' in GD:
    return True
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
if 'ecorest_horn_slope' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
decode, place, check = GD['ecorest_decode'], GD['ecorest_place'], GD['ecorest_check']

def svc_layer(shape, geo, wkb, scale=None, offset=None):
    if wkb is None:
        return np.full(shape, np.nan)
    a = place(shape, geo, wkb, fill=np.nan)
    return a * (1.0 if scale is None else scale) + (0.0 if offset is None else offset)

def svc_lut(v, m, codes, vals):
    out = np.full(v.shape, np.nan)
    pairs = [(int(c), float(x)) for c, x in zip(codes or [], vals or [])
             if c is not None and x is not None]
    if not pairs:
        return out
    keys = np.array([p[0] for p in pairs], np.int64)
    lv = np.array([p[1] for p in pairs], np.float64)
    order = np.argsort(keys)
    keys, lv = keys[order], lv[order]
    vi = v.astype(np.int64)
    pos = np.clip(np.searchsorted(keys, vi), 0, keys.size - 1)
    hit = m & (keys[pos] == vi)
    out[hit] = lv[pos[hit]]
    return out

def svc_canvas(shape, geo, tiles, r, scale=None, offset=None):
    h, w = shape
    big = (h + 2 * r, w + 2 * r)
    pgeo = (geo[0], geo[1], geo[2] - r * geo[0], geo[3] - r * geo[1])
    canvas = np.full(big, np.nan)
    for t in tiles or []:
        check()
        if t is not None:
            part = place(big, pgeo, t, fill=np.nan)
            canvas = np.where(np.isnan(canvas), part, canvas)
    return canvas * (1.0 if scale is None else scale) + (0.0 if offset is None else offset)

def svc_range(canvas, r):
    # separable running max and min over rows, then columns; NaN cells take no part
    hi = np.where(np.isnan(canvas), -np.inf, canvas)
    lo = np.where(np.isnan(canvas), np.inf, canvas)
    k = 2 * r + 1
    hi = sliding_window_view(hi, k, axis=1).max(axis=-1)
    lo = sliding_window_view(lo, k, axis=1).min(axis=-1)
    hi = sliding_window_view(hi, k, axis=0).max(axis=-1)
    lo = sliding_window_view(lo, k, axis=0).min(axis=-1)
    out = hi - lo
    out[~np.isfinite(out)] = np.nan
    return out


def svc_fvc(shape, geo, wkb, scale, offset, ndvi_soil, ndvi_veg):
    x = svc_layer(shape, geo, wkb, scale, offset)
    if ndvi_soil is not None and ndvi_veg is not None:
        if not ndvi_veg > ndvi_soil:
            plpy.error('vegetation cover from NDVI needs NDVI_veg (%r) above NDVI_soil (%r)'
                       % (ndvi_veg, ndvi_soil))
        x = (x - ndvi_soil) / (ndvi_veg - ndvi_soil)
    return np.clip(x, 0.0, 1.0)

def svc_grade(x, breaks, increasing=True):
    b = np.asarray(breaks, np.float64)
    idx = np.digitize(np.where(np.isnan(x), 0.0, x), b)
    if not increasing:
        idx = b.size - idx
    out = 1.0 + 2.0 * idx
    out[np.isnan(x)] = np.nan
    return out

def svc_classes(grades, breaks):
    with np.errstate(invalid='ignore'):
        gm = np.exp(np.mean(np.log(np.stack(grades)), axis=0))
    cls = np.digitize(gm, np.asarray(breaks, np.float64), right=True) + 1.0
    cls[np.isnan(gm)] = np.nan
    return cls

GD['ecorest_svc_layer'] = svc_layer
GD['ecorest_svc_lut'] = svc_lut
GD['ecorest_svc_canvas'] = svc_canvas
GD['ecorest_svc_range'] = svc_range
GD['ecorest_svc_fvc'] = svc_fvc
GD['ecorest_svc_classes'] = svc_classes
GD['ecorest_svc_grade'] = svc_grade
return True
$$;

-- Annual water yield (InVEST 3.20.2 annual_water_yield, fractp_op) and HJ 1173 water
-- conservation of one land-cover tile. Per pixel, with Kc, root depth and lulc_veg of its class:
--   PET = Kc ET0;  AWC = min(root depth, soil depth) x PAWC (mm)
--   vegetated (lulc_veg = 1):  w = Z AWC / P + 1.25, capped at 5;
--       AET/P = min(PET/P, 1 + PET/P - (1 + (PET/P)^w)^(1/w))
--   not vegetated:              AET/P = min(PET, P) / P
--   water yield = (1 - AET/P) P;  AET = AET/P x P
-- InVEST's rules kept: P = 0 has no result; a class without Kc, root depth or lulc_veg has no
-- result (InVEST stops on it); the root depth of a non-vegetated class is not used.
-- Water conservation (HJ 1173: Q = A (P - R - ET) 10^-3 m^3): P - R - ET in mm with
-- R = P x runoff_coefficient(class) and ET from the aet layer where given (aet not null),
-- else the Budyko AET above; it may be negative (a sink). Tiles: lc (land cover), then
-- precip, et0, pawc, soil_depth (mm), aet (null when not loaded); scales/offsets in that
-- order (5 each). Bands (32BF, nodata -9999): 1 water_yield_mm, 2 aet_mm (Budyko),
-- 3 water_conservation_mm. Returns null when nothing can be computed.
create or replace function raster.np_water_yield(
    lc bytea, precip bytea, et0 bytea, pawc bytea, soil_depth bytea, aet bytea,
    scales double precision[], offsets double precision[],
    codes integer[], kc double precision[], root_depth double precision[],
    lulc_veg double precision[], runoff_coefficient double precision[],
    zhang_z double precision default 5)
returns bytea language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_svc_grade' not in GD:
    plpy.execute('select raster.np_services_loaded()')
decode, encode, check = GD['ecorest_decode'], GD['ecorest_encode'], GD['ecorest_check']
layer, lut = GD['ecorest_svc_layer'], GD['ecorest_svc_lut']
if lc is None or precip is None:
    return None
if zhang_z is None or not zhang_z > 0:
    plpy.error('water yield: the seasonality constant Z must be positive, not %r' % zhang_z)
v, m, g = decode(lc, with_geo=True)
shape = v.shape
sc = list(scales or []) + [None] * 5
of = list(offsets or []) + [None] * 5
check()
P = layer(shape, g, precip, sc[0], of[0])
et = layer(shape, g, et0, sc[1], of[1])
pw = layer(shape, g, pawc, sc[2], of[2])
sd = layer(shape, g, soil_depth, sc[3], of[3])
ae = layer(shape, g, aet, sc[4], of[4]) if aet is not None else None
k = lut(v, m, codes, kc)
root = lut(v, m, codes, root_depth)
veg = lut(v, m, codes, lulc_veg)
rc = lut(v, m, codes, runoff_coefficient)
check()
with np.errstate(all='ignore'):
    root = np.where(veg == 1, root, 1.0)          # InVEST: 1 for non-vegetated classes
    ok = (m & np.isfinite(k) & np.isfinite(veg) & np.isfinite(P) & (P != 0)
          & np.isfinite(et) & np.isfinite(pw) & np.isfinite(sd) & np.isfinite(root))
    pet = k * et
    phi = pet / P
    awc = np.where(root < sd, root, sd) * pw
    w = awc / P * zhang_z + 1.25
    w = np.where(w > 5, 5.0, w)
    aet_p = 1 + phi - (1 + phi ** w) ** (1 / w)
    veg_frac = np.where(phi < aet_p, phi, aet_p)
    nonveg_frac = np.where(P < pet, P, pet) / P
    frac = np.where(veg == 1, veg_frac, nonveg_frac)
    wyield = np.where(ok, (1 - frac) * P, np.nan)
    aet_mm = np.where(ok, frac * P, np.nan)
    et_used = ae if ae is not None else aet_mm
    wc = np.where(m & np.isfinite(P), P - P * rc - et_used, np.nan)
if np.isnan(wyield).all() and np.isnan(wc).all():
    return None
return encode(lc, [wyield, aet_mm, wc])
$$;
comment on function raster.np_water_yield(bytea, bytea, bytea, bytea, bytea, bytea,
  double precision[], double precision[], integer[], double precision[], double precision[],
  double precision[], double precision[], double precision) is
  'Annual water yield and AET (InVEST 3.20.2 Budyko-Zhang) and HJ 1173 water conservation (mm) of a tile';

-- Windbreak and sand fixation by RWEQ (HJ 1173; METHODS 2.4) on one land-cover tile:
--   WF  the weather factor (kg/m per year, layer wind_factor) x (1 - snow_cover) when the
--       snow_cover layer (share of days with snow) is given
--   EF  = (29.09 + 0.31 sa + 0.17 si + 0.33 sa/cl - 2.59 OM - 0.95 CaCO3) / 100, clipped to
--       0..1 (an erodible fraction; sa, si, cl, OM, CaCO3 in %; no result where clay is 0)
--   SCF = 1 / (1 + 0.0066 cl^2 + 0.021 OM^2)
--   K'  = exp(1.86 Kr - 2.41 Kr^0.934 - 0.127 Crr), Crr = 0, Kr = 0.2 dH^2 / L with dH the
--       elevation range (m) of the 3 x 3 window and L its width (3 pixels, m)
--   C   = exp(a_i SC), SC = vegetation cover in %, a_i of the class (rweq_cover_coefficient;
--       no result for a class without one)
--   Q_max = 109.8 (WF EF SCF K' C) kg/m;  s = 150.71 (WF EF SCF K' C)^-0.3711 m
--   S_L = 2 z / s^2 Q_max exp(-(z/s)^2) kg/m^2 (x 10: t/ha), z = z_m (m, distance of the
--   maximum erosion); potential: the same without C; sand fixation = potential - actual.
-- dem: the DEM tiles around the land-cover tile (any order; null entries skipped); soil:
-- sand, silt, clay, om, caco3 tiles in that order; veg: fvc (ndvi_soil null) or NDVI with its
-- dimidiate end members. scales/offsets: wind_factor, snow_cover, dem, sand, silt, clay, om,
-- caco3, veg (9 each). Bands (32BF, t/ha/yr): 1 wind_loss_potential, 2 wind_loss,
-- 3 sand_fixation.
create or replace function raster.np_wind_erosion(
    lc bytea, wind_factor bytea, snow_cover bytea, dem bytea[], soil bytea[], veg bytea,
    scales double precision[], offsets double precision[],
    ndvi_soil double precision, ndvi_veg double precision,
    codes integer[], cover_coefficient double precision[],
    z_m double precision default 50)
returns bytea language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_svc_grade' not in GD:
    plpy.execute('select raster.np_services_loaded()')
decode, encode, check = GD['ecorest_decode'], GD['ecorest_encode'], GD['ecorest_check']
layer, lut = GD['ecorest_svc_layer'], GD['ecorest_svc_lut']
canvas_of, rng, fvc_of = GD['ecorest_svc_canvas'], GD['ecorest_svc_range'], GD['ecorest_svc_fvc']
if lc is None or wind_factor is None or veg is None:
    return None
if z_m is None or not z_m > 0:
    plpy.error('RWEQ: the distance z of the maximum erosion must be positive, not %r' % z_m)
v, m, g = decode(lc, with_geo=True)
shape = v.shape
sc = list(scales or []) + [None] * 9
of = list(offsets or []) + [None] * 9
soils = list(soil or []) + [None] * 5
wf = layer(shape, g, wind_factor, sc[0], of[0])
if snow_cover is not None:
    wf = wf * (1 - np.clip(layer(shape, g, snow_cover, sc[1], of[1]), 0, 1))
check()
canvas = canvas_of(shape, g, dem, 1, sc[2], of[2])
dh = rng(canvas, 1)
L = 3 * abs(g[0])
sa, si, cl, om, ca = [layer(shape, g, t, s, o) for t, s, o in zip(soils[:5], sc[3:8], of[3:8])]
fvc = fvc_of(shape, g, veg, sc[8], of[8], ndvi_soil, ndvi_veg)
a = lut(v, m, codes, cover_coefficient)
check()
with np.errstate(all='ignore'):
    ef = np.clip((29.09 + 0.31 * sa + 0.17 * si + 0.33 * sa / np.where(cl > 0, cl, np.nan)
                  - 2.59 * om - 0.95 * ca) / 100.0, 0.0, 1.0)
    scf = 1.0 / (1.0 + 0.0066 * cl ** 2 + 0.021 * om ** 2)
    kr = 0.2 * dh ** 2 / L
    kp = np.exp(1.86 * kr - 2.41 * kr ** 0.934)
    c = np.exp(a * fvc * 100.0)

    def loss(x):
        # S_L in t/ha of a product x = WF EF SCF K' (C); 0 where x = 0
        qmax = 109.8 * x
        s = 150.71 * np.where(x > 0, x, np.nan) ** -0.3711
        sl = 2 * z_m / s ** 2 * qmax * np.exp(-(z_m / s) ** 2)
        return np.where(x > 0, sl, np.where(x == 0, 0.0, np.nan)) * 10.0

    base = wf * ef * scf * kp
    # a class without a cover coefficient (water, built-up) has no wind erosion result
    on = m & np.isfinite(a)
    pot = np.where(on, loss(base), np.nan)
    act = np.where(on, loss(base * c), np.nan)
    fix = pot - act
if np.isnan(pot).all() and np.isnan(act).all():
    return None
return encode(lc, [pot, act, fix])
$$;
comment on function raster.np_wind_erosion(bytea, bytea, bytea, bytea[], bytea[], bytea,
  double precision[], double precision[], double precision, double precision, integer[],
  double precision[], double precision) is
  'RWEQ potential and actual wind soil loss and sand fixation (t/ha/yr) of a land-cover tile';

-- Ecological sensitivity classes of one land-cover tile (small integers; 0 where a
-- sensitivity's inputs are missing, nodata where the land cover has none). Each factor is
-- graded 1, 3, 5, 7, 9 by its four breaks (1, 3, 5 by two), the grades combined by their
-- geometric mean, and the mean graded by class breaks (x <= b: 1 ... n; 2, 4, 6, 8 give the
-- five classes 1 not sensitive ... 5 extremely sensitive):
--   erosion (soil-erosion sensitivity): erosivity R, erodibility K, relief (elevation range,
--     m, in a window of about relief_window_m), vegetation cover (reversed)
--   desertification (land-desertification sensitivity): aridity ET0/P, soil texture (sandy:
--     sand >= 85 % grade 9, clayey: clay >= 40 % grade 3, else loamy 7; the guideline's
--     bedrock 1 and gravelly 5 cannot be told from sand and clay), cover (reversed)
--   rocky (rocky-desertification sensitivity, where the carbonate-rock share > 0; 0 elsewhere):
--     carbonate-rock share (lithology), slope (degrees, Horn), cover (reversed)
-- dem: the DEM tiles around the land-cover tile; scales/offsets: erosivity, erodibility, dem,
-- et0, precip, sand, clay, lithology, veg (9 each). Bands (32BF): 1 erosion_sensitivity,
-- 2 desertification_sensitivity, 3 rocky_desertification_sensitivity.
create or replace function raster.np_sensitivity(
    lc bytea, erosivity bytea, erodibility bytea, dem bytea[], et0 bytea, precip bytea,
    sand bytea, clay bytea, lithology bytea, veg bytea,
    scales double precision[], offsets double precision[],
    ndvi_soil double precision, ndvi_veg double precision,
    relief_window_m double precision,
    erosivity_breaks double precision[], erodibility_breaks double precision[],
    relief_breaks double precision[], erosion_cover_breaks double precision[],
    erosion_class_breaks double precision[],
    aridity_breaks double precision[], desert_cover_breaks double precision[],
    desert_class_breaks double precision[],
    lithology_breaks double precision[], slope_breaks double precision[],
    rocky_cover_breaks double precision[], rocky_class_breaks double precision[])
returns bytea language plpython3u immutable parallel safe cost 1000000 as $$
import numpy as np
if 'ecorest_svc_grade' not in GD:
    plpy.execute('select raster.np_services_loaded()')
decode, encode, check = GD['ecorest_decode'], GD['ecorest_encode'], GD['ecorest_check']
layer, canvas_of = GD['ecorest_svc_layer'], GD['ecorest_svc_canvas']
rng, fvc_of = GD['ecorest_svc_range'], GD['ecorest_svc_fvc']
slope_of = GD['ecorest_horn_slope']
grade, classes = GD['ecorest_svc_grade'], GD['ecorest_svc_classes']
if lc is None:
    return None
v, m, g = decode(lc, with_geo=True)
shape = v.shape
sc = list(scales or []) + [None] * 9
of = list(offsets or []) + [None] * 9
have_dem = any(t is not None for t in (dem or []))
fvc = fvc_of(shape, g, veg, sc[8], of[8], ndvi_soil, ndvi_veg) if veg is not None else None
out = []
# soil erosion
if erosivity is not None and erodibility is not None and have_dem and fvc is not None:
    r = max(1, int(round((relief_window_m or 0) / abs(g[0]) / 2.0)))
    r = min(r, min(shape))                      # the neighbouring tiles give at most one tile
    relief = rng(canvas_of(shape, g, dem, r, sc[2], of[2]), r)
    check()
    cls = classes([grade(layer(shape, g, erosivity, sc[0], of[0]), erosivity_breaks),
                   grade(layer(shape, g, erodibility, sc[1], of[1]), erodibility_breaks),
                   grade(relief, relief_breaks),
                   grade(fvc, erosion_cover_breaks, increasing=False)], erosion_class_breaks)
    out.append(cls)
else:
    out.append(np.zeros(shape))
# land desertification
if et0 is not None and precip is not None and sand is not None and clay is not None \
        and fvc is not None:
    with np.errstate(all='ignore'):
        p = layer(shape, g, precip, sc[4], of[4])
        ai = layer(shape, g, et0, sc[3], of[3]) / np.where(p > 0, p, np.nan)
    sa = layer(shape, g, sand, sc[5], of[5])
    cl = layer(shape, g, clay, sc[6], of[6])
    tex = np.where(sa >= 85, 9.0, np.where(cl >= 40, 3.0, 7.0))
    tex[np.isnan(sa) | np.isnan(cl)] = np.nan
    check()
    out.append(classes([grade(ai, aridity_breaks), tex,
                        grade(fvc, desert_cover_breaks, increasing=False)], desert_class_breaks))
else:
    out.append(np.zeros(shape))
# rocky desertification (karst only)
if lithology is not None and have_dem and fvc is not None:
    lith = layer(shape, g, lithology, sc[7], of[7])
    slope = slope_of(canvas_of(shape, g, dem, 1, sc[2], of[2]), 1, g)
    check()
    cls = classes([grade(lith, lithology_breaks), grade(slope, slope_breaks),
                   grade(fvc, rocky_cover_breaks, increasing=False)], rocky_class_breaks)
    cls[lith == 0] = 0
    out.append(cls)
else:
    out.append(np.zeros(shape))
if all((b == 0).all() for b in out):
    return None
for b in out:
    b[~m] = np.nan
return encode(lc, out)
$$;
comment on function raster.np_sensitivity(bytea, bytea, bytea, bytea[], bytea, bytea, bytea,
  bytea, bytea, bytea, double precision[], double precision[], double precision,
  double precision, double precision, double precision[], double precision[],
  double precision[], double precision[], double precision[], double precision[],
  double precision[], double precision[], double precision[], double precision[],
  double precision[], double precision[]) is
  'Soil-erosion, land-desertification and rocky-desertification sensitivity classes of a tile';
