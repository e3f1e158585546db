-- In-database per-pixel kernels (PL/Python + numpy on whole tiles). PostGIS's per-pixel
-- callbacks (ST_MapAlgebra with PL/pgSQL) cost 2-21 µs a pixel; these run at numpy speed.

-- Decode a one-band PostGIS raster (its hex WKB, as PL/Python receives it) into a numpy array
-- and a validity mask. Cached in GD so that every kernel shares it.
--
-- The one exception to "one raster WKB codec": decode/encode/place below are the in-server copy
-- of ecorest/wkb.py (the Python package is not installed inside the server). They mirror it:
-- same header layout, pixel types and validity rule (nodata flag, NaN for float bands, the
-- all-nodata flag), little-endian and in-database bands only. Change both together;
-- tests/test_wkb.py checks each against PostGIS (ST_DumpValues) and against each other (through
-- raster.crosstab and raster.np_lookup).
--
-- check() is the kernels' cancellation point. Python code notices a statement_timeout, a cancel
-- (pg_cancel_backend), an ended session (pg_terminate_backend: Ctrl-C of `ecorest run`) or a
-- vanished client (client_connection_check_interval) only when it calls into the server, so
-- every loop whose length grows with the data calls check(): at most every 0.5 s it runs a
-- prepared `select 1`, whose executor checks for interrupts and raises the pending error
-- (tests/test_kernel_timeout.py; the checks cost under 2 % of a call). Inside a parallel query
-- (IsInParallelMode(), read through ctypes) no SPI call is allowed: there check() does nothing,
-- and a cancel takes effect when the running kernel call returns (one tile: well under a
-- second), as the executor checks for interrupts between rows.
--
-- Kernels need no SPI call to find these helpers either: where a kernel body says
-- plpy.execute('select raster.np_kernels_loaded()') (or another np_*_loaded()), the migration
-- puts the loader's own body in its place (ecorest/store/kernel_sql.py), so that a kernel
-- declared parallel safe can run in PostgreSQL's parallel workers, which start with an empty GD
-- and refuse SPI. The loader functions stay callable as they are.
create or replace function raster.np_kernels_loaded() returns boolean
language plpython3u as $$
if all(k in GD for k in ('ecorest_decode', 'ecorest_encode', 'ecorest_check', 'ecorest_label',
                         'ecorest_horn_slope', 'ecorest_in_parallel_mode',
                         'ecorest_config_option', 'ecorest_joint_zones',
                         'ecorest_class_trajectories', 'ecorest_trajectory_counts',
                         'ecorest_finite_values')):
    return True
import ctypes
import struct
import time
import numpy as np

TYPES = {0: ('u1', 1), 1: ('u1', 1), 2: ('u1', 1), 3: ('i1', 1), 4: ('u1', 1), 5: ('<i2', 2),
         6: ('<u2', 2), 7: ('<i4', 4), 8: ('<u4', 4), 10: ('<f4', 4), 11: ('<f8', 8)}

def decode(wkb, band=1, with_geo=False):
    # wkb: bytes (a bytea argument: raster::bytea, no hex round trip) or a hex string
    if wkb is None:
        return (None, None, None) if with_geo else (None, None)
    b = bytes.fromhex(wkb) if isinstance(wkb, str) else wkb
    if b[0] != 1:
        plpy.error('ecorest kernels read little-endian rasters only')
    nbands, = struct.unpack_from('<H', b, 3)
    geo = struct.unpack_from('<dddd', b, 5)  # scale x, scale y, upper-left x, upper-left y
    width, height = struct.unpack_from('<HH', b, 57)
    off = 61
    for i in range(1, nbands + 1):
        flags = b[off]
        code = flags & 0x0F
        dtype, size = TYPES[code]
        if flags & 0x80:
            plpy.error('out-of-database rasters are not supported')
        nodata = np.frombuffer(b, dtype=dtype, count=1, offset=off + 1)[0]
        data_off = off + 1 + size
        if i == band:
            a = np.frombuffer(b, dtype=dtype, count=width * height,
                              offset=data_off).reshape(height, width)
            if flags & 0x20:
                valid = np.zeros(a.shape, bool)
            elif flags & 0x40:
                valid = (a != nodata) & ~np.isnan(a) if a.dtype.kind == 'f' else a != nodata
            else:
                valid = np.ones(a.shape, bool)
            return (a, valid, geo) if with_geo else (a, valid)
        off = data_off + width * height * size
    plpy.error('band %d does not exist' % band)

def encode(template, bands, nodata=-9999.0):
    # float32 bands on the grid of a template tile (its WKB) -> a multi-band 32BF raster WKB
    t = bytes.fromhex(template) if isinstance(template, str) else template
    header = bytearray(t[:61])
    header[3:5] = struct.pack('<H', len(bands))
    nd = np.array([nodata], dtype='<f4').tobytes()
    parts = [bytes(header)]
    for a in bands:
        a = np.where(np.isnan(a), nodata, a).astype('<f4')
        parts += [struct.pack('<B', 10 | 0x40), nd, a.tobytes()]
    return b''.join(parts)

def place(shape, geo, wkb, fill=0, band=1):
    # a raster on the same grid (e.g. a zone raster covering part of a tile) placed onto a tile
    # of the given shape and geo transform; cells outside it or without data get `fill`
    v, m, g = decode(wkb, band, with_geo=True)
    dtype = np.float64 if isinstance(fill, float) else np.int64
    c0 = int(round((g[2] - geo[2]) / geo[0]))
    r0 = int(round((g[3] - geo[3]) / geo[1]))
    if c0 == 0 and r0 == 0 and v.shape == tuple(shape):
        # the same extent (tiles of one grid): a copy, `fill` where there is no data
        out = v.astype(dtype)
        np.copyto(out, fill, where=~m)
        return out
    out = np.full(shape, fill, dtype=dtype)
    h, w = shape
    rs0, cs0 = max(0, -r0), max(0, -c0)
    rd0, cd0 = max(0, r0), max(0, c0)
    nh = min(h - rd0, v.shape[0] - rs0)
    nw = min(w - cd0, v.shape[1] - cs0)
    if nh > 0 and nw > 0:
        part = v[rs0:rs0 + nh, cs0:cs0 + nw]
        out[rd0:rd0 + nh, cd0:cd0 + nw] = np.where(m[rs0:rs0 + nh, cs0:cs0 + nw], part, fill)
    return out

_due = [0.0]
_plan = []
# PostgreSQL's own functions, callable inside a parallel query (which refuses SPI):
# IsInParallelMode() (xact.c) and GetConfigOption(name, missing_ok, restrict_privileged) (guc.c)
_pg = ctypes.CDLL(None)
_in_parallel_mode = _pg.IsInParallelMode
_in_parallel_mode.restype = ctypes.c_bool
_in_parallel_mode.argtypes = []
_config_option = _pg.GetConfigOption
_config_option.restype = ctypes.c_char_p
_config_option.argtypes = [ctypes.c_char_p, ctypes.c_bool, ctypes.c_bool]
# A kernel's temporaries are arrays of a tile (0.06-2 MB), allocated and freed many times a
# call. glibc serves blocks of that size with fresh mmap()s and trims the heap after each
# free, so every temporary costs page faults: about half of a cross-tab's time. Keeping them
# on the heap (mmap above 32 MB only, trim above 128 MB; glibc's mallopt) halves it. Once
# per process; what a backend keeps is bounded by one call's working set.
if hasattr(_pg, 'mallopt'):
    _pg.mallopt(-3, 32 << 20)       # M_MMAP_THRESHOLD
    _pg.mallopt(-1, 128 << 20)      # M_TRIM_THRESHOLD

def check(every=0.5):
    # a cancellation point: one server call (SPI) at most every `every` seconds (none inside a
    # parallel query, where SPI is refused)
    now = time.monotonic()
    if now < _due[0]:
        return
    if _in_parallel_mode():
        _due[0] = now + every
        return
    if not _plan:
        _plan.append(plpy.prepare('select 1'))
    plpy.execute(_plan[0])
    _due[0] = time.monotonic() + every

def label(g):
    # edge-connected (4-connected) components of equal non-zero values of a 2-D integer array:
    # labels 1..k numbered in raster order of each component's first pixel, 0 where g is 0.
    # Runs of equal values along rows are joined with the runs below them that share a column
    # and the value; the run graph's components come from hooking each root on the smaller
    # one and pointer jumping (a few numpy passes, no per-pixel Python).
    h, w = g.shape
    flat = np.ascontiguousarray(g).ravel()
    if flat.size == 0:
        return np.zeros(g.shape, np.int32), 0
    start = np.ones(flat.size, bool)
    start[1:] = flat[1:] != flat[:-1]
    start[::w] = True
    run_of = np.cumsum(start) - 1
    n = int(run_of[-1]) + 1
    same = (flat[:-w] == flat[w:]) & (flat[:-w] != 0)
    ra, rb = run_of[:-w][same], run_of[w:][same]
    if ra.size:
        pair = np.unique(ra.astype(np.int64) * n + rb)
        ra, rb = pair // n, pair % n
    lab = np.arange(n)
    while ra.size:
        la, lb = lab[ra], lab[rb]
        d = la != lb
        if not d.any():
            break
        np.minimum.at(lab, np.maximum(la[d], lb[d]), np.minimum(la[d], lb[d]))
        while True:
            nxt = lab[lab]
            if np.array_equal(nxt, lab):
                break
            lab = nxt
    comp = lab[run_of]
    out = np.zeros(flat.size, np.int32)
    fg = flat != 0
    roots, inv = np.unique(comp[fg], return_inverse=True)
    out[fg] = inv + 1
    return out.reshape(h, w), int(roots.size)

def finite_values(wkb, band=1):
    # the valid (not nodata) finite values of a band of a tile, as a 1-D float64 array
    v, m = decode(wkb, band)
    x = v[m].astype(np.float64)
    return x[np.isfinite(x)]

def bin_index(x, lo, hi, bins):
    # the bin of every value in `bins` equal bins over lo..hi (values outside: first/last bin)
    width = (hi - lo) / bins if hi > lo else 1.0
    return np.clip(((x - lo) / width).astype(np.int64), 0, bins - 1)

def present(a):
    # the distinct values of an integer array, sorted (a bincount when small and >= 0)
    lo, hi = int(a.min()), int(a.max())
    if lo >= 0 and hi < (1 << 20):
        return np.nonzero(np.bincount(a.ravel(), minlength=1))[0]
    return np.unique(a)

def index_of(values, a):
    # the position of every element of a in the sorted array values (all present)
    if len(values) and values[0] >= 0 and values[-1] < (1 << 20):
        lut = np.zeros(int(values[-1]) + 1, np.int64)
        lut[values] = np.arange(len(values))
        return lut[a]
    return np.searchsorted(values, a)

def joint_zones(shape, geo, zones):
    # The zones of several zone sets (zones: one zone raster per set on the grid of a tile of
    # this shape and geo transform, null where the set has no zone on the tile) as one joint
    # zone per pixel: the combinations of zones present on the tile, so that a kernel sums once
    # over the joint zones and then per set (joint_sums). Returns (ji: every pixel's joint
    # zone, J: their number, layers: [(zone_no, zone ids, the zone index of each joint zone)]);
    # layer zone_no 0 is the whole tile as zone 0, zone_no i the zones of zones[i] (1-based).
    # The combination is a mixed radix over each set's range of ids (one pass a set), numbered
    # once; each set's zone of a combination follows from the combination alone.
    npx = shape[0] * shape[1]
    sets = []
    for i, z in enumerate(zones or [], start=1):
        if z is None:
            continue
        v, m, g = decode(z, with_geo=True)
        if v.shape == tuple(shape) and g[2:] == geo[2:]:
            # a zone tile of the same extent: its ids as stored, 0 where no data
            zone = (v if m.all() else np.where(m, v, 0)).ravel()
        else:
            zone = place(shape, geo, z).ravel()
        lo = int(zone.min())
        sets.append((i, zone, lo, int(zone.max()) - lo + 1))
    if not sets:                    # no zone: the whole tile is joint zone 0
        return np.zeros(npx, np.int64), 1, [(0, np.zeros(1, np.int64), np.zeros(1, np.int64))]
    joint = np.zeros(npx, np.int64)
    radix = 1
    digits = []                 # (zone_no, lowest id, span) of the sets in the joint's radix
    prior = []                  # (zone_no, id per number) of sets numbered before (overflow)

    def zones_of(c):
        # the zone id of every set for joint values c
        out = []
        for no, lo, span in reversed(digits):
            out.append((no, c % span + lo))
            c = c // span
        return [(no, v[c]) for no, v in prior] + out[::-1]

    for no, zone, lo, span in sets:
        if radix * span >= (1 << 40):
            combos = present(joint)         # the combinations so far, numbered
            prior = zones_of(combos)
            digits = []
            joint = index_of(combos, joint)
            radix = len(combos)
        joint *= span               # in place, int64 whatever the ids' type
        joint += zone
        joint -= lo
        radix *= span
        digits.append((no, lo, span))
    combos = present(joint)
    ji = index_of(combos, joint)
    J = len(combos)
    layers = [(0, np.zeros(1, np.int64), np.zeros(J, np.int64))]
    for no, v in sorted(zones_of(combos), key=lambda x: x[0]):
        ids, zc = np.unique(v, return_inverse=True)
        layers.append((no, ids, zc.ravel()))
    return ji, J, layers

def joint_sums(layers, table):
    # a table over the joint zones (first axis) -> per layer (zone_no, zone ids, the table per
    # zone of the layer), zone 0 of a zone set (no zone) left in: callers drop it
    for no, ids, zc in layers:
        t = np.zeros((len(ids),) + table.shape[1:], table.dtype)
        np.add.at(t, zc, table)
        yield no, ids, t

def class_trajectories(tiles):
    # The land-cover trajectories of a tile position (tiles: one tile per epoch in time order,
    # null where an epoch has no tile): None when no pixel is valid at any epoch, else (shape,
    # geo transform, key: every pixel's trajectory as one integer in 0..R-1, R, classes_of:
    # key values -> their trajectories (the class at every epoch, None where the pixel is
    # invalid then), none: the key of "invalid at every epoch" or None). The key is a mixed
    # radix over each epoch's range of classes (-1 for invalid): a few 1-D passes a pixel, no
    # sort; when the ranges' product is too large, the distinct rows (np.unique) number them.
    shape = g0 = None
    cols = []
    for t in tiles or []:
        check()
        if t is None:
            cols.append(None)
            continue
        v, m, g = decode(t, with_geo=True)
        if shape is None:
            shape, g0 = v.shape, g                  # the first tile there: the position's grid
        elif v.shape != shape:
            plpy.error('trajectory tiles differ in size: %s vs %s' % (v.shape, shape))
        if m.all():
            c = v.ravel()                           # as stored (no copy)
        else:
            c = v.astype(np.int32 if v.dtype.itemsize < 4 else np.int64).ravel()
            c[~m.ravel()] = -1
        cols.append(c)
    if shape is None:
        return None
    P = shape[0] * shape[1]
    low = [-1 if c is None else int(c.min()) for c in cols]
    high = [-1 if c is None else int(c.max()) for c in cols]
    if max(high) < 0:
        return None
    span = [hi - lo + 1 for lo, hi in zip(low, high)]
    if float(np.prod(np.array(span, float))) < 2.0 ** 40:
        R = int(np.prod(span))
        # the key in the narrowest unsigned type that holds 0..R-1, computed modulo its range
        # (exact: every key lies in 0..R-1), in place
        dt = np.uint16 if R <= 1 << 16 else np.uint32 if R <= 1 << 32 else np.uint64
        M = 1 << (8 * np.dtype(dt).itemsize)
        key = None
        for c, lo, sp in zip(cols, low, span):
            if sp == 1:
                continue
            if key is None:
                key = c.astype(dt)
            else:
                key *= dt(sp)
                np.add(key, c, out=key, casting='unsafe')
            key += dt(-lo % M)
        if key is None:
            key = np.zeros(P, dt)
        mult = np.concatenate([np.cumprod(span[::-1])[::-1][1:], [1]]).astype(np.int64)
        low_a, span_a = np.array(low, np.int64), np.array(span, np.int64)
        none = int(((-1 - low_a) * mult).sum()) if all(lo == -1 for lo in low) else None

        def classes_of(ks):
            t = (np.asarray(ks, np.int64)[:, None] // mult) % span_a + low_a
            return [[None if x < 0 else int(x) for x in r] for r in t]
    else:
        stack = np.stack([np.full(P, -1, np.int64) if c is None else c.astype(np.int64)
                          for c in cols], axis=1)
        table, key = np.unique(stack, axis=0, return_inverse=True)
        key = key.ravel()
        R = len(table)
        hit = np.nonzero((table < 0).all(axis=1))[0]
        none = int(hit[0]) if len(hit) else None

        def classes_of(ks):
            return [[None if x < 0 else int(x) for x in table[k]] for k in ks]
    return shape, g0, key, R, classes_of, none

def trajectory_counts(ji, J, layers, key, R, classes_of, none):
    # Pixels per (zone of each layer of joint_zones, trajectory): (zone_no, zone id, classes,
    # pixels) rows, zone 0 of a zone set (no zone) left in; pixels invalid at every epoch are
    # not counted. One bincount over (joint zone, key) when that table is small, else a sort.
    if J * R <= 4 * key.size + 65536:
        counts = np.bincount(ji * R + key if J > 1 else key, minlength=J * R)
        nz = np.nonzero(counts)[0]
        jz, ks, n = nz // R, nz % R, counts[nz]
    else:
        u, n = np.unique(ji * R + key, return_counts=True)
        jz, ks = u // R, u % R
    if none is not None:
        keep = ks != none
        jz, ks, n = jz[keep], ks[keep], n[keep]
    if not len(ks):
        return []
    # the trajectories present, numbered (with one joint zone they are distinct and sorted
    # already), and the table (joint zone, trajectory) -> pixels, summed per layer by joint_sums
    if J == 1:
        kinds, kk = ks, np.arange(len(ks))
    else:
        kinds, kk = np.unique(ks, return_inverse=True)
    table = np.zeros((J, len(kinds)), np.int64)
    table[jz, kk.ravel()] = n
    classes = classes_of(kinds)
    return [(no, int(ids[z]), classes[k], int(t[z, k]))
            for no, ids, t in joint_sums(layers, table) for z, k in zip(*np.nonzero(t))]

GD['ecorest_decode'] = decode
GD['ecorest_encode'] = encode
GD['ecorest_place'] = place
GD['ecorest_class_trajectories'] = class_trajectories
GD['ecorest_trajectory_counts'] = trajectory_counts
GD['ecorest_finite_values'] = finite_values
GD['ecorest_bin_index'] = bin_index
GD['ecorest_present'] = present
GD['ecorest_index_of'] = index_of
GD['ecorest_joint_zones'] = joint_zones
GD['ecorest_joint_sums'] = joint_sums
GD['ecorest_check'] = check
GD['ecorest_in_parallel_mode'] = _in_parallel_mode
GD['ecorest_config_option'] = _config_option
def horn_slope(canvas, r, geo):
    # Slope (degrees, Horn 1981) of the centre part of a canvas padded by r >= 1 px (geo: the
    # pixel size in x and y first). A neighbour without data (nodata, outside the region
    # boundary, a missing tile, the edge of the grid) is extrapolated, exactly on a plane: from
    # the centre and the opposite neighbour (2 e - opposite); a corner whose opposite is
    # missing too from the plane through the centre and its two filled side neighbours; a side
    # whose opposite is missing too (a strip one pixel wide) takes the centre's value.
    H, W = canvas.shape
    h, w = H - 2 * r, W - 2 * r
    e = canvas[r:r + h, r:r + w]
    win = {(dr, dc): canvas[r + dr:r + dr + h, r + dc:r + dc + w]
           for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)}
    z = {}
    for k in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        x, opp = win[k], win[(-k[0], -k[1])]
        z[k] = np.where(np.isnan(x), np.where(np.isnan(opp), e, 2 * e - opp), x)
    for k in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
        x, opp = win[k], win[(-k[0], -k[1])]
        z[k] = np.where(np.isnan(x), np.where(np.isnan(opp), z[(k[0], 0)] + z[(0, k[1])] - e,
                                              2 * e - opp), x)
    a, b, c = z[(-1, -1)], z[(-1, 0)], z[(-1, 1)]
    d, f = z[(0, -1)], z[(0, 1)]
    g, hh, i = z[(1, -1)], z[(1, 0)], z[(1, 1)]
    dx, dy = abs(geo[0]), abs(geo[1])
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * dx)
    dzdy = ((g + 2 * hh + i) - (a + 2 * b + c)) / (8 * dy)
    return np.degrees(np.arctan(np.hypot(dzdx, dzdy)))


GD['ecorest_label'] = label
GD['ecorest_horn_slope'] = horn_slope
return True
$$;

-- Pixel counts per (zone, value in a, value in b) of aligned tiles: the cross-tab behind areas,
-- transition matrices and stocks. z (zone ids, 0 = none) and b may be null: a null zone raster
-- means zone 0 everywhere, a null b counts single values (v2 = v1). Pixels invalid in a or b are
-- skipped.
create or replace function raster.crosstab(z bytea, a bytea, b bytea)
returns table (zone_id integer, v1 integer, v2 integer, pixels bigint)
language plpython3u immutable parallel safe cost 1000000 as $$
if 'ecorest_trajectory_counts' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
# a and b as a two-epoch trajectory (a alone when b is null), pixels valid in both kept
tiles = [a, b] if b is not None else [a]
found = GD['ecorest_class_trajectories'](tiles)
if found is None:
    return []
shape, g0, key, R, classes_of, none = found
ji, J, layers = GD['ecorest_joint_zones'](shape, g0, [z] if z is not None else [])
return [(zid, cls[0], cls[-1], n) for _, zid, cls, n in
        GD['ecorest_trajectory_counts'](ji, J, layers[-1:], key, R, classes_of, none)
        if None not in cls]
$$;
comment on function raster.crosstab(bytea, bytea, bytea) is
  'Pixel counts per (zone, value a, value b) of aligned tiles given as raster::bytea (WKB)';

-- the same for raster arguments (the WKB is passed to the kernel as bytea, not as hex text)
create or replace function raster.crosstab(z raster, a raster, b raster)
returns table (zone_id integer, v1 integer, v2 integer, pixels bigint)
language sql immutable parallel safe cost 1000000 as $$
  select * from raster.crosstab(z::bytea, a::bytea, b::bytea)
$$;
comment on function raster.crosstab(raster, raster, raster) is
  'Pixel counts per (zone, value a, value b) of aligned tiles (PL/Python + numpy kernel)';

-- Shapes (code, polygon in the tiles' SRID) burnt onto the grid of the tiles of table p_table
-- (raster.tiles with p_catalog_id: that catalog entry's; a data node's own tile table without
-- it) (pixel centres inside the polygon; 0 = no shape; where shapes overlap the larger code
-- wins). Each result raster covers the part of its tile that shapes touch; raster.crosstab
-- places it on the tile. With p_except_catalog: not at the positions where that catalog entry
-- has a tile (burnt there already: a region's layers share one grid, so a position has one
-- extent). The same statement on one server and on every data node, so both burn alike.
create or replace function raster.burn_table(p_table regclass, p_codes integer[],
                                             p_geoms geometry[], p_catalog_id bigint default null,
                                             p_except_catalog bigint default null)
returns table (tile_x integer, tile_y integer, rast raster)
language plpgsql stable as $$
begin
  return query execute format(
    'with shapes as (select s.code, s.g from unnest($1, $2) as s(code, g)), '
    'parts as ('
    '  select t.tile_x, t.tile_y, t.rast as tile, s.code, '
    '         st_clipbybox2d(s.g, st_envelope(t.rast)) as g '
    '  from %s t join shapes s on st_intersects(s.g, st_envelope(t.rast)) %s) '
    'select tile_x, tile_y, '
    '       st_union(st_asraster(g, tile, ''32BSI'', code::double precision, 0, false), ''MAX'') '
    'from parts where not st_isempty(g) and st_dimension(g) = 2 group by tile_x, tile_y',
    p_table,
    case when p_catalog_id is not null then
      'where t.catalog_id = $3 and not exists (select 1 from raster.tiles e '
      'where e.catalog_id = $4 and e.tile_x = t.tile_x and e.tile_y = t.tile_y)' else '' end)
    using p_codes, p_geoms, p_catalog_id, p_except_catalog;
end
$$;
comment on function raster.burn_table(regclass, integer[], geometry[], bigint, bigint) is
  'Polygons burnt (by code) onto the grid of the tiles of a tile table';

drop function if exists raster.burn_tiles(bigint, integer[], geometry[]);
create or replace function raster.burn_tiles(p_catalog_id bigint, p_codes integer[],
                                             p_geoms geometry[],
                                             p_except_catalog bigint default null)
returns table (tile_x integer, tile_y integer, rast raster)
language sql stable as $$
  select * from raster.burn_table('raster.tiles', p_codes, p_geoms, p_catalog_id,
                                  p_except_catalog)
$$;
comment on function raster.burn_tiles(bigint, integer[], geometry[], bigint) is
  'Polygons burnt (by code) onto the grid of the tiles of a catalog entry';

-- The tiles of several catalog entries at one tile position, in the order of p_ids (null where
-- an entry has no tile there): the stack a per-position kernel reads. One row, or none when
-- fewer than p_min tiles are there (with p_years: fewer than p_min distinct years among them).
-- A set-returning function called laterally, rather than a lateral subquery with array_agg:
-- PostgreSQL keeps a lateral subquery that aggregates over the outer row out of parallel
-- workers, a parallel-safe function it does not, and the stack is read once per position.
create or replace function raster.tile_stack(p_ids bigint[], p_x integer, p_y integer,
                                             p_years integer[] default null,
                                             p_min integer default 1)
returns setof bytea[] language plpgsql stable parallel safe rows 1 as $$
declare
  n integer := coalesce(cardinality(p_ids), 0);
  r bytea[] := case when n > 0 then array_fill(null::bytea, array[n]) else '{}' end;
  found_n integer := 0;
  years integer[] := '{}';
  t bytea;
begin
  -- one indexed lookup per entry (a cached plan; the partition is chosen at run time), each
  -- tile put in its place: no join of the entries with every partition, no sort of megabytes
  for i in 1 .. n loop
    select x.rast::bytea into t from raster.tiles as x
     where x.catalog_id = p_ids[i] and x.tile_x = p_x and x.tile_y = p_y;
    if t is not null then
      r[i] := t;
      if p_years is null then
        found_n := found_n + 1;
      elsif p_years[i] is not null and not p_years[i] = any(years) then
        years := years || p_years[i];
        found_n := found_n + 1;
      end if;
    end if;
  end loop;
  if found_n >= p_min then
    return next r;
  end if;
end $$;
comment on function raster.tile_stack(bigint[], integer, integer, integer[], integer) is
  'Tiles of the catalog entries p_ids at one tile position, in their order (null: no tile)';

-- The (up to 8) tiles around one tile position of a catalog entry: a border for the kernels
-- that look one pixel beyond their tile (slope).
create or replace function raster.neighbour_tiles(p_id bigint, p_x integer, p_y integer)
returns bytea[] language plpgsql stable parallel safe as $$
begin
  return array(select n.rast::bytea from raster.tiles as n
                where n.catalog_id = p_id
                  and n.tile_x between p_x - 1 and p_x + 1
                  and n.tile_y between p_y - 1 and p_y + 1
                  and (n.tile_x, n.tile_y) <> (p_x, p_y));
end $$;
comment on function raster.neighbour_tiles(bigint, integer, integer) is
  'The tiles of a catalog entry around one tile position (its 8 neighbours that exist)';

-- The same for a table of named tiles (columns <p_column>, tile_x, tile_y, rast), e.g. a
-- model's factor tiles (column factor) or zone tiles (column zone_set): the tiles of p_names at
-- one position, in their order, null where missing (raster.named_tiles); raster.named_tile_stack
-- gives no row when none is there.
create or replace function raster.named_tiles(p_table regclass, p_names text[], p_x integer,
                                              p_y integer, p_column text default 'factor')
returns bytea[] language plpgsql stable parallel safe as $$
declare
  r bytea[];
begin
  execute format('select array(select f.rast::bytea from unnest($1) with ordinality as u(name, k) '
                 'left join %s as f on f.%I = u.name and f.tile_x = $2 and f.tile_y = $3 '
                 'order by u.k)', p_table, p_column)
    into r using p_names, p_x, p_y;
  return r;
end $$;
comment on function raster.named_tiles(regclass, text[], integer, integer, text) is
  'Tiles of the named entries of a table at one tile position, in their order (null: none)';

create or replace function raster.named_tile_stack(p_table regclass, p_names text[],
                                                   p_x integer, p_y integer)
returns setof bytea[] language plpgsql stable parallel safe rows 1 as $$
declare
  r bytea[] := raster.named_tiles(p_table, p_names, p_x, p_y);
begin
  if exists (select 1 from unnest(r) as u(t) where t is not null) then
    return next r;
  end if;
end $$;
comment on function raster.named_tile_stack(regclass, text[], integer, integer) is
  'Tiles of the named factors of a table at one tile position, in their order (null: none)';

-- Zone ids of one region's zone set on the tiles of a reference catalog entry (with
-- p_except_catalog: not where that entry has a tile, see raster.burn_tiles).
drop function if exists raster.zone_tiles(bigint, text);
create or replace function raster.zone_tiles(p_catalog_id bigint, p_zone_set text,
                                             p_except_catalog bigint default null)
returns table (tile_x integer, tile_y integer, rast raster)
language sql stable as $$
  select b.*
  from (
    select array_agg(z.zone_id::integer) as codes,
           array_agg(st_transform(z.geom, r.srid)) as geoms
    from raster.catalog c
    join registry.regions r on r.region_id = c.region_id
    join registry.zones z on z.region_id = c.region_id and z.zone_set = p_zone_set
    where c.catalog_id = p_catalog_id
  ) as a
  cross join lateral raster.burn_tiles(p_catalog_id, a.codes, a.geoms, p_except_catalog) as b
  where a.codes is not null
$$;
comment on function raster.zone_tiles(bigint, text, bigint) is
  'Zone-id rasters of a zone set aligned with the tiles of a catalog entry';

-- Restoration projects (current versions) of the region of a catalog entry and their baseline
-- rings, in the SRID of its tiles, as one row of parallel arrays (null when there is no
-- project): codes 2 x project_version_id for a project, 2 x id + 1 for its ring (the band of
-- p_ring_m metres around it, outside every project of the region), and the polygons; what
-- raster.burn_tiles burns here and a data node's raster.burn_table there.
drop function if exists raster.project_shapes(bigint, double precision);
create or replace function raster.project_shapes(p_catalog_id bigint, p_ring_m double precision)
returns table (codes integer[], geoms geometry[])
language sql stable as $$
  with ref as (
    select c.region_id, r.srid from raster.catalog c
    join registry.regions r on r.region_id = c.region_id
    where c.catalog_id = p_catalog_id
  ), projects as (
    select p.project_version_id, st_transform(p.geom, ref.srid) as g
    from registry.projects p join ref on p.region_id = ref.region_id
    where p.valid_to is null
  ), all_projects as (
    select st_union(g) as g from projects
  ), shapes as (
    select (project_version_id * 2)::integer as code, g from projects
    union all
    select (p.project_version_id * 2 + 1)::integer,
           st_difference(st_buffer(p.g, p_ring_m), a.g)
    from projects p cross join all_projects a
  )
  select array_agg(code), array_agg(g) from shapes
$$;
comment on function raster.project_shapes(bigint, double precision) is
  'Projects (2 x id) and their baseline rings (2 x id + 1) in the SRID of a catalog entry, '
  'as arrays of codes and polygons';

-- The projects and rings of raster.project_shapes burnt onto the tiles of a catalog entry. Where
-- rings of two projects overlap, the larger id wins.
create or replace function raster.project_tiles(p_catalog_id bigint, p_ring_m double precision)
returns table (tile_x integer, tile_y integer, rast raster)
language sql stable as $$
  select b.*
  from raster.project_shapes(p_catalog_id, p_ring_m) as s
  cross join lateral raster.burn_tiles(p_catalog_id, s.codes, s.geoms) as b
  where s.codes is not null
$$;
comment on function raster.project_tiles(bigint, double precision) is
  'Project (2 x id) and baseline-ring (2 x id + 1) rasters aligned with a catalog entry''s tiles';

-- Map class codes to values on one tile (PL/Python + numpy): a float32 raster on the same grid,
-- nodata where the tile has nodata or a code has no value. Returns the raster's WKB.
create or replace function raster.np_lookup(a bytea, codes integer[], vals double precision[],
                                            nodata double precision default -9999)
returns bytea language plpython3u immutable parallel safe cost 1000000 as $$
import struct
import numpy as np
if 'ecorest_decode' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
v, m = GD['ecorest_decode'](a)
lut_codes = np.asarray(codes or [], dtype=np.int64)     # no classes: every pixel nodata
lut_vals = np.asarray(vals or [], dtype=np.float64)
out = np.full(v.shape, nodata, dtype=np.float32)
order = np.argsort(lut_codes)
lut_codes, lut_vals = lut_codes[order], lut_vals[order]
pos = np.clip(np.searchsorted(lut_codes, v.astype(np.int64)), 0, max(len(lut_codes) - 1, 0))
hit = m & (len(lut_codes) > 0) & (lut_codes[pos] == v)
out[hit] = lut_vals[pos[hit]]
header = bytearray(a[:61])
header[3:5] = struct.pack('<H', 1)  # one band
band = struct.pack('<B', 10 | 0x40) + np.array([nodata], dtype='<f4').tobytes()
return bytes(header) + band + out.astype('<f4').tobytes()
$$;
comment on function raster.np_lookup(bytea, integer[], double precision[], double precision) is
  'Class codes to values on one tile (e.g. carbon density), as a 32BF raster WKB';

-- Pixel counts per value of band 1 of one tile (PL/Python + numpy): the valid pixels only (not
-- nodata; an all-nodata tile gives no rows), as ST_ValueCount(rast, 1, true) counts them, with
-- one np.bincount when the values are small non-negative integers (np.unique otherwise).
-- int_landcover_classes reads the classes present through it, once per tile, in PostgreSQL's
-- parallel workers too. Integer bands only (a class is an integer).
create or replace function raster.np_value_counts(a bytea)
returns table (value integer, pixels bigint)
language plpython3u immutable parallel safe cost 1000000 rows 20 as $$
import numpy as np
if 'ecorest_decode' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
if a is None:
    return []
v, m = GD['ecorest_decode'](a)
if v.dtype.kind == 'f':
    plpy.error('raster.np_value_counts counts integer bands; band 1 is %s' % v.dtype)
x = v[m]
if x.size == 0:
    return []
if int(x.min()) >= 0 and int(x.max()) < (1 << 20):
    counts = np.bincount(x)
    values = np.nonzero(counts)[0]
    counts = counts[values]
else:
    values, counts = np.unique(x, return_counts=True)
return list(zip(values.tolist(), counts.tolist()))
$$;
comment on function raster.np_value_counts(bytea) is
  'Valid pixels per value of band 1 of one tile given as raster::bytea (WKB), nodata excluded';

-- Per-pixel carbon density (t C/ha) of one pool at one epoch, as used by an assessment run
-- (the run's own land-cover layer and its marts.parameter_lineage densities): for maps and
-- GeoTIFF exports. The land-cover entry is found first and its tiles read by its id as a
-- parameter of the statement, so that only its partition of raster.tiles is read (a join
-- with the catalog read every partition; with data nodes every tile of every layer travelled).
create or replace function raster.carbon_density_tiles(p_run_id bigint, p_epoch text,
                                                       p_pool text)
returns table (tile_x integer, tile_y integer, rast raster)
language plpgsql stable as $$
declare
  ids bigint[];
  codes integer[];
  vals double precision[];
begin
  select array_agg(c.catalog_id order by c.catalog_id) into ids
    from etl.assessment_runs r
    join raster.catalog c on c.catalog_id = any(r.input_catalog_ids)
   where r.run_id = p_run_id and c.layer = 'landcover' and c.epoch_label = p_epoch;
  select array_agg(l.class_code), array_agg(l.value) into codes, vals
    from marts.parameter_lineage l
   where l.run_id = p_run_id and l.pool = p_pool and l.parameter = 'carbon_density';
  for k in 1 .. coalesce(cardinality(ids), 0) loop
    return query execute
      'select t.tile_x, t.tile_y, st_rastfromwkb(raster.np_lookup(t.rast::bytea, $2, $3, -9999)) '
      'from raster.tiles t where t.catalog_id = $1'
      using ids[k], codes, vals;
  end loop;
end $$;
comment on function raster.carbon_density_tiles(bigint, text, text) is
  'Per-pixel carbon density (t C/ha) of a pool at an epoch, as an assessment run used it';

-- Pixel counts per (zone, class sequence over the epochs) of aligned tiles: the land-cover
-- trajectories behind the carbon dynamics (a pixel's class at every epoch, so the epoch it
-- entered its class is known across all epochs, not only consecutive pairs). tiles holds one
-- tile per epoch in time order (raster::bytea; null where an epoch has no tile there); classes
-- has one element per epoch, null where the pixel is invalid (nodata or no tile) at that
-- epoch. Pixels invalid at every epoch are skipped. z (zone ids, 0 = none) may be null (zone 0).
create or replace function raster.trajectories(z bytea, tiles bytea[])
returns table (zone_id integer, classes integer[], pixels bigint)
language plpython3u immutable parallel safe cost 1000000 as $$
if 'ecorest_trajectory_counts' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
found = GD['ecorest_class_trajectories'](tiles)
if found is None:
    return []
shape, g0, key, R, classes_of, none = found
ji, J, layers = GD['ecorest_joint_zones'](shape, g0, [z] if z is not None else [])
# the zones of z (zone 0 = none), or without z the whole tile as zone 0
return [(zid, cls, n) for _, zid, cls, n in
        GD['ecorest_trajectory_counts'](ji, J, layers[-1:], key, R, classes_of, none)]
$$;
comment on function raster.trajectories(bytea, bytea[]) is
  'Pixel counts per (zone, class at every epoch) of aligned tiles given as raster::bytea (WKB)';

-- The same for the whole region and several zone sets at once (zones: one zone raster per zone
-- set, null where the set has no zone on the tile): rows zone_no 0 = the whole tile as zone 0,
-- zone_no i = zones[i], zone ids <> 0 only. The tiles are decoded once for all sets.
create or replace function raster.zone_trajectories(zones bytea[], tiles bytea[])
returns table (zone_no integer, zone_id integer, classes integer[], pixels bigint)
language plpython3u immutable parallel safe cost 1000000 as $$
if 'ecorest_trajectory_counts' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
found = GD['ecorest_class_trajectories'](tiles)
if found is None:
    return []
shape, g0, key, R, classes_of, none = found
# the zone sets' zones as one joint zone per pixel, counted once, then per zone set
ji, J, layers = GD['ecorest_joint_zones'](shape, g0, zones)
return [(no, zid, cls, n) for no, zid, cls, n in
        GD['ecorest_trajectory_counts'](ji, J, layers, key, R, classes_of, none)
        if not (no and zid == 0)]                   # outside every zone of the set
$$;
comment on function raster.zone_trajectories(bytea[], bytea[]) is
  'Pixel counts per (zone of the region and of several zone sets, class at every epoch) of aligned tiles';

-- Planner statistics of what a load wrote, inside the load's transaction (so they commit with
-- it): the tables of its loader and the tile partitions of its catalog entries. Without them
-- the planner guesses row counts of new tiles, zones and catalog entries, and joins between
-- them can take minutes instead of seconds. The registry and raster tables belong to the
-- migrating login, not to the loading role: this runs as their owner (security definer) and
-- analyses only tables of schemas registry, raster and etl. Returns the tables analysed.
create or replace function raster.analyze_load(p_load_id bigint) returns integer
language plpgsql security definer set search_path = pg_catalog, public as $$
declare
  v_loader text;
  v_tables text[];
  v_table regclass;
  v_n integer := 0;
begin
  select l.loader into v_loader from etl.loads as l where l.load_id = p_load_id;
  v_tables := case v_loader
    when 'raster' then array['raster.catalog']
    when 'region' then array['registry.regions']
    when 'legend' then array['registry.legends', 'registry.legend_classes']
    when 'zones' then array['registry.zones', 'registry.zone_tiles']
    when 'projects' then array['registry.projects', 'registry.project_measures']
    when 'samples' then array['registry.reference_samples']
    when 'plots' then array['registry.survey_plots', 'registry.plot_measurements',
                            'registry.plot_trees', 'registry.plot_soil_layers']
    when 'params' then array['registry.parameter_sets', 'registry.parameter_values']
    -- a loader not listed here: every registry table (they are small)
    else array(select format('%I.%I', schemaname, tablename) from pg_tables
               where schemaname = 'registry' order by tablename) end;
  for v_table in
    select to_regclass(t) from unnest(v_tables) as t where to_regclass(t) is not null
    union all
    select to_regclass(format('raster.%I', 'tiles_' || c.catalog_id))
    from raster.catalog as c
    where c.load_id = p_load_id and to_regclass(format('raster.%I', 'tiles_' || c.catalog_id))
                                    is not null
  loop
    -- ordinary tables only: a partition held on data nodes (partitioned into foreign tables)
    -- is analysed on its nodes by the loader, and sampling it here would fetch rasters over
    -- the network
    if (select n.nspname in ('registry', 'raster', 'etl') and k.relkind = 'r'
        from pg_class as k join pg_namespace as n on n.oid = k.relnamespace
        where k.oid = v_table) then
      execute format('analyze %s', v_table);
      v_n := v_n + 1;
    end if;
  end loop;
  return v_n;
end $$;
comment on function raster.analyze_load(bigint) is
  'Planner statistics (ANALYZE) of the tables and tile partitions one load wrote';
