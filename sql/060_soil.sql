-- Soil retention (RUSLE, HJ 1173) and soil-erosion intensity (SL 190, HJ 1174) of a whole
-- region, computed the way InVEST 3.20.2's SDR model computes RKLS, USLE and avoided erosion
-- (docs/SERVICES.md). PL/Python + numpy only.
--
-- Flow paths cross tiles, so the kernel assembles the region's tiles of each input into one
-- array (a one-pixel invalid border around it), routes water over the whole region and cuts the
-- results back into the region grid's tiles. Memory: about 40 bytes a pixel at the peak (DEM,
-- factors, flow weights, accumulation), all float32 / int32 / uint8 except the accumulation and
-- plateau distances (float64).
--
-- Steps, each as InVEST 3.20.2 / pygeoprocessing 2.4 does it:
--   valid     pixels where the DEM, R, K and the land cover all have data (InVEST's mutual
--             mask: a pixel without K is left out, also as a flow path)
--   fill      depressions filled to their lowest pour point; water leaves the region where a
--             pixel touches an invalid pixel or the grid's edge (pygeoprocessing fill_pits)
--   slope     percent slope of the filled DEM, Zevenbergen-Thorne with the diagonals and
--             pygeoprocessing's fallbacks at invalid neighbours (calculate_slope)
--   routing   MFD: every downhill neighbour gets drop (diagonal: drop / sqrt 2) over their sum,
--             quantised to 4-bit weights like pygeoprocessing's flow_dir_mfd; D8: the steepest
--             drop (first on ties). Flats drain to their nearest outlet pixel (distance over the
--             flat, 1 or sqrt 2 a step; D8 in pygeoprocessing's queue order, flat by flat); a
--             flat without a lower outlet drains off the region.
--   accumulation  upslope pixels, the pixel itself included (Kahn's topological order over
--             the whole region, in batches)
--   streams   MFD: accumulation >= threshold, traced upstream from the region's outlets, with
--             pixels >= 0.7 x threshold kept where they join two stream pixels (InVEST's
--             trace_threshold_proportion 0.7); D8: accumulation > threshold
--   LS        Desmet & Govers with the square root of the upslope area (InVEST's
--             _calculate_ls_factor, L capped at l_max); InVEST's "aspect" term
--             |sin| + |cos| takes the slope angle, as InVEST 3.20.2 does
--   RKLS = R K LS, USLE = R K LS C P, retention = RKLS - USLE (t/ha/yr); 0 on stream pixels
--   class     SL 190 intensity of the USLE in t/(km2 yr): 1 micro (< micro threshold of the
--             region type), 2 light (< 2500), 3 moderate (< 5000), 4 strong (< 8000),
--             5 very strong (< 15000), 6 severe (>= 15000)
--   SDR       InVEST's sediment delivery ratio (Borselli IC with W = C, S = slope; k_b, IC0,
--             SDR_max; 1 on streams) and sediment export = USLE x SDR
--
-- The routines are kept in GD['ecorest_soil'] so that raster.np_soil_tiles and the checks
-- outside the database (the InVEST comparison runs them on plain arrays) share one copy.
create or replace function raster.np_soil_loaded() returns boolean
language plpython3u as $$
if 'ecorest_soil' in GD:
    return True
from collections import deque
import numpy as np
if 'ecorest_check' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
check = GD['ecorest_check']

# neighbour i = 0..7 in pygeoprocessing's order (E, NE, N, NW, W, SW, S, SE):  3 2 1
#                                                                             4 x 0
#                                                                             5 6 7
DR = (0, -1, -1, -1, 0, 1, 1, 1)
DC = (1, 1, 0, -1, -1, -1, 0, 1)
SQRT2 = 1.4142135623730951
SQRT2_INV = 1.0 / 1.4142135623730951
STEP = tuple(SQRT2 if i & 1 else 1.0 for i in range(8))
ROWS = 256                      # rows per chunk of the local (3 x 3) steps

# SL 190-2007 micro-erosion thresholds (t/(km2 yr)) by region type (METHODS 2.5)
MICRO = {'northwest_loess': 1000.0, 'northeast_black_soil': 200.0,
         'north_rocky_mountain': 200.0, 'south_red_soil': 500.0, 'southwest': 500.0}
CLASS_BREAKS = (2500.0, 5000.0, 8000.0, 15000.0)


class Grid:
    """A padded region: arrays of shape (h + 2, w + 2), border invalid; flat index offsets."""

    def __init__(self, ok):
        self.ok = ok
        self.hp, self.wp = ok.shape
        self.h, self.w = self.hp - 2, self.wp - 2
        self.n = ok.size
        if self.n >= 2 ** 31:
            plpy.error('the region has %d pixels; the soil kernels handle fewer than 2^31'
                       % self.n)
        self.off = [DR[i] * self.wp + DC[i] for i in range(8)]
        self.okf = ok.ravel()

    def chunks(self):
        for r0 in range(1, self.h + 1, ROWS):
            check()
            yield r0, min(r0 + ROWS, self.h + 1)

    def nb(self, a, i, r0, r1):
        # neighbour i of rows r0..r1-1 (padded coordinates), interior columns
        return a[r0 + DR[i]:r1 + DR[i], 1 + DC[i]:self.w + 1 + DC[i]]


def touches_invalid(g):
    # valid pixels with an invalid neighbour (nodata, outside the region, the grid's edge)
    out = np.zeros(g.ok.shape, bool)
    for r0, r1 in g.chunks():
        c = np.zeros((r1 - r0, g.w), bool)
        for i in range(8):
            c |= ~g.nb(g.ok, i, r0, r1)
        out[r0:r1, 1:-1] = c & g.ok[r0:r1, 1:-1]
    return out


def fill_pits(g, z):
    """Depressions raised to their lowest pour point (pygeoprocessing fill_pits): the height
    of the lowest path to an outlet, its highest pixel. Relaxed outwards from the outlets, the
    lowest first: a bucket queue over 4096 slices of the height range, rounds within a bucket,
    so that nearly every pixel is settled the first time it is reached."""
    zf = z.ravel()
    w = np.where(g.okf, np.float32(np.inf), np.float32(0)).astype(np.float32)
    seeds = np.flatnonzero(touches_invalid(g))
    if not seeds.size:
        return np.where(g.okf, w, np.float32(0)).reshape(z.shape)
    w[seeds] = zf[seeds]
    valid = zf[g.okf]
    lo = float(valid.min())
    width = max(float(valid.max()) - lo, 1e-6) / 4096
    buckets = {}

    def bucket(idx):
        return ((w[idx].astype(np.float64) - lo) / width).astype(np.int64)

    def push(idx):
        if not idx.size:
            return
        b = bucket(idx)
        o = np.argsort(b, kind='stable')
        b, idx = b[o], idx[o]
        cut = np.flatnonzero(np.diff(b)) + 1
        for bb, part in zip(b[np.r_[0, cut]], np.split(idx, cut)):
            buckets.setdefault(int(bb), []).append(part)

    push(seeds)
    while buckets:
        check()
        cur = min(buckets)
        front = np.unique(np.concatenate(buckets.pop(cur)))
        front = front[bucket(front) == cur]      # entries whose pixel has moved on are stale
        while front.size:
            check()
            wf = w[front]
            moved = []
            for k in g.off:
                t = front + k
                cand = np.maximum(zf[t], wf)
                better = g.okf[t] & (cand < w[t])
                t = t[better]
                w[t] = cand[better]              # targets are distinct for one direction
                moved.append(t)
            moved = np.unique(np.concatenate(moved))
            here = bucket(moved) <= cur
            push(moved[~here])
            front = moved[here]
    return np.where(g.okf, w, np.float32(0)).reshape(z.shape)


def slope_percent(g, z):
    """Percent slope (pygeoprocessing calculate_slope): Zevenbergen & Thorne with diagonals;
    at invalid neighbours the inline middle pixel, else the centre and a sqrt 2 factor."""
    out = np.zeros(z.shape, np.float32)
    cell_x, cell_y = g.cell, g.cell
    for r0, r1 in g.chunks():
        v = {i: g.nb(z, i, r0, r1).astype(np.float64) for i in range(8)}
        m = {i: g.nb(g.ok, i, r0, r1) for i in range(8)}
        e = z[r0:r1, 1:-1].astype(np.float64)

        def outer(p, q, mid):
            pv, qv, mv = m[p], m[q], m[mid]
            acc = np.where(pv & qv, v[p] - v[q],
                  np.where(pv & mv, v[p] - v[mid],
                  np.where(mv & qv, v[mid] - v[q],
                  np.where(pv, (v[p] - e) * 2 ** 0.5,
                  np.where(qv, (e - v[q]) * 2 ** 0.5, 0.0)))))
            den = np.where(pv & qv, 2, np.where(pv | qv, 1, 0))
            return acc, den

        def inner(p, q):
            pv, qv = m[p], m[q]
            acc = np.where(pv & qv, 2 * (v[p] - v[q]),
                  np.where(pv, 2 * (v[p] - e), np.where(qv, 2 * (e - v[q]), 0.0)))
            den = np.where(pv & qv, 4, np.where(pv | qv, 2, 0))
            return acc, den

        # a b c      a = 3 (NW), b = 2 (N), c = 1 (NE)
        # d e f      d = 4 (W),             f = 0 (E)
        # g h i      g = 5 (SW), h = 6 (S), i = 7 (SE)
        parts_x = [outer(3, 1, 2), inner(4, 0), outer(5, 7, 6)]
        parts_y = [outer(3, 5, 4), inner(2, 6), outer(1, 7, 0)]
        dzdx = sum(p[0] for p in parts_x)
        nx = sum(p[1] for p in parts_x)
        dzdy = sum(p[0] for p in parts_y)
        ny = sum(p[1] for p in parts_y)
        with np.errstate(divide='ignore', invalid='ignore'):
            dzdx = np.where(nx > 0, dzdx / (nx * cell_x), 0.0)
            dzdy = np.where(ny > 0, dzdy / (ny * cell_y), 0.0)
        s = 100 * np.sqrt(dzdx ** 2 + dzdy ** 2)
        out[r0:r1, 1:-1] = np.where(g.ok[r0:r1, 1:-1], s, 0)
    return out


def downhill(g, z, r0, r1):
    # drops to the 8 neighbours (diagonal drops / sqrt 2), 0 where not downhill or invalid
    e = z[r0:r1, 1:-1].astype(np.float64)
    d = np.zeros((8, r1 - r0, g.w))
    for i in range(8):
        s = e - g.nb(z, i, r0, r1).astype(np.float64)
        if i & 1:
            s = s * SQRT2_INV
        d[i] = np.where(g.nb(g.ok, i, r0, r1) & (s > 0), s, 0.0)
    return d


def quantise(weights, total):
    # 4-bit flow weights as pygeoprocessing packs them: int(0.5 + w / sum * 15)
    with np.errstate(divide='ignore', invalid='ignore'):
        q = (0.5 + weights / total * 15).astype(np.int64)
    return np.where(total > 0, q, 0).astype(np.uint8)


def flats(g, z, drained):
    """Flat areas that hold an undrained pixel: 8-connected pixels of equal height around every
    valid pixel without a downhill neighbour. Labels (the smallest flat index of an undrained
    pixel of the area): each pixel first takes the label of the undrained pixel that reaches
    it first over the flat, then labels that touch are merged (union by the smaller label,
    pointer jumping)."""
    zf = z.ravel()
    label = np.full(g.n, -1, np.int32)
    seeds = np.flatnonzero(g.okf & ~drained.ravel())
    label[seeds] = seeds
    front = seeds
    while front.size:
        check()
        moved = []
        for k in g.off:
            t = front + k
            sel = g.okf[t] & (label[t] < 0) & (zf[t] == zf[front])
            t = t[sel]
            label[t] = label[front[sel]]
            moved.append(t)
        front = np.concatenate(moved)
    # labels that meet across the flat belong together
    member = np.flatnonzero(label >= 0)
    a, b = [], []
    for k in g.off[:4]:
        t = member + k
        sel = (label[t] >= 0) & (label[t] != label[member]) & (zf[t] == zf[member])
        a.append(label[member[sel]])
        b.append(label[t[sel]])
    a, b = np.concatenate(a), np.concatenate(b)
    if a.size:
        ids = seeds                              # sorted flat indices: label -> position
        a, b = np.searchsorted(ids, a), np.searchsorted(ids, b)
        parent = np.arange(ids.size)
        while True:
            check()
            ra, rb = parent[a], parent[b]
            diff = ra != rb
            if not diff.any():
                break
            lo, hi = np.minimum(ra[diff], rb[diff]), np.maximum(ra[diff], rb[diff])
            np.minimum.at(parent, hi, lo)
            while True:
                jumped = parent[parent]
                if np.array_equal(jumped, parent):
                    break
                parent = jumped
        label[member] = ids[parent[np.searchsorted(ids, label[member])]]
    return label


def flat_distances(g, z, label, drain):
    """Distance (1 or sqrt 2 a step) over a flat from its nearest drain pixel."""
    zf = z.ravel()
    dist = np.full(g.n, np.inf)
    front = np.flatnonzero(drain)
    dist[front] = 0.0
    while front.size:
        check()
        df = dist[front]
        moved = []
        for i, k in enumerate(g.off):
            t = front + k
            cand = df + STEP[i]
            better = (label[t] >= 0) & (zf[t] == zf[front]) & (cand < dist[t])
            t = t[better]
            dist[t] = cand[better]
            moved.append(t)
        front = np.unique(np.concatenate(moved))
    return dist


def route(g, z, method):
    """Flow directions: MFD -> (8, hp, wp) uint8 4-bit weights; D8 -> (hp, wp) int8 (-1 none)."""
    mfd = method == 'mfd'
    if mfd:
        q = np.zeros((8,) + z.shape, np.uint8)
    else:
        q = np.full(z.shape, -1, np.int8)
    drained = np.zeros(z.shape, bool)
    for r0, r1 in g.chunks():
        d = downhill(g, z, r0, r1)
        tot = d.sum(axis=0)
        has = tot > 0
        drained[r0:r1, 1:-1] = has
        if mfd:
            q[:, r0:r1, 1:-1] = quantise(d, tot)
        else:
            q[r0:r1, 1:-1] = np.where(has, d.argmax(axis=0), -1)
    drained &= g.ok
    label = flats(g, z, drained)
    member = label >= 0
    if not member.any():
        return q
    # drains of each flat: its pixels with a downhill neighbour; a flat without any drains off
    # the region from its pixels that touch an invalid one
    down_drain = member & drained.ravel()
    has_down = np.zeros(g.n, bool)
    has_down[label[down_drain]] = True
    edge = touches_invalid(g).ravel()
    off_drain = member & ~has_down[np.maximum(label, 0)] & edge
    drain = down_drain | off_drain
    p = np.flatnonzero(off_drain)
    if p.size:
        ww = np.zeros((8, p.size))
        for i, k in enumerate(g.off):
            ww[i] = np.where(g.okf[p + k], 0.0, SQRT2_INV if i & 1 else 1.0)
        if mfd:
            qq = quantise(ww, ww.sum(axis=0))
            for i in range(8):
                q[i].ravel()[p] = qq[i]
        else:
            # first cardinal invalid neighbour, else the last diagonal one (pygeoprocessing)
            card = ww[0::2] > 0
            diag = ww[7::-2] > 0
            q.ravel()[p] = np.where(card.any(axis=0), 2 * card.argmax(axis=0),
                                    7 - 2 * diag.argmax(axis=0))
    if not mfd:
        d8_flats(g, z, label, drain, q)
        return q
    dist = flat_distances(g, z, label, drain)
    rest = np.flatnonzero(member & ~drain & np.isfinite(dist))
    zf = z.ravel()
    ww = np.zeros((8, rest.size))
    for i, k in enumerate(g.off):
        t = rest + k
        closer = (label[t] >= 0) & (zf[t] == zf[rest]) & (dist[t] < dist[rest])
        ww[i] = np.where(closer, SQRT2_INV if i & 1 else 1.0, 0.0)
    qq = quantise(ww, ww.sum(axis=0))
    for i in range(8):
        q[i].ravel()[rest] = qq[i]
    return q


def d8_flats(g, z, label, drain, q):
    """D8 directions inside flats in pygeoprocessing's order, flat by flat: a breadth-first
    search from the flat's first undrained pixel (256 x 256 block scan order) lists its drains;
    a first-in first-out search from them sets each pixel towards the neighbour that last
    shortened its distance (1 or sqrt 2 a step). Sequential, but over flat pixels only."""
    members = np.flatnonzero(label >= 0)
    if not members.size:
        return
    lab = label[members]
    row, col = members // g.wp - 1, members % g.wp - 1
    undrained = ~drain.ravel()[members]
    # members grouped by flat, each group in scan order
    o = np.lexsort((col, row, col // 256, row // 256, lab))
    members, lab, undrained = members[o], lab[o], undrained[o]
    cut = np.flatnonzero(np.diff(lab)) + 1
    zf, okf, qf, dr = z.ravel(), g.okf, q.ravel(), drain.ravel()
    off = g.off
    for grp, und in zip(np.split(members, cut), np.split(undrained, cut)):
        check()
        if not und.any():
            continue
        root = int(grp[np.argmax(und)])
        h = zf[root]
        seen = {root}
        bfs = deque([root])
        drains = []
        while bfs:
            p = bfs.popleft()
            if dr[p]:
                drains.append(p)
            for k in off:
                n = p + k
                if n not in seen and okf[n] and zf[n] == h:
                    seen.add(n)
                    bfs.append(n)
        dist = dict.fromkeys(drains, 0.0)
        fifo = deque(drains)
        while fifo:
            p = fifo.popleft()
            dp = dist[p]
            for i in range(8):
                n = p + off[i]
                if n in seen and not dr[n]:
                    nd = dp + STEP[i]
                    if nd < dist.get(n, np.inf):
                        dist[n] = nd
                        qf[n] = (i + 4) % 8
                        fifo.append(n)


def edges(g, q, mfd, i, src):
    # sources among src with an edge in direction i to a valid pixel; their weights
    t = src + g.off[i]
    if mfd:
        w = q[i].ravel()[src]
        sel = (w > 0) & g.okf[t]
        return sel, t[sel], w[sel]
    sel = (q.ravel()[src] == i) & g.okf[t]
    return sel, t[sel], None


def accumulate(g, q, method, weights=()):
    """Flow accumulation in upslope pixels, the pixel itself included (pygeoprocessing
    flow_accumulation_mfd / _d8), and the same sums of each array in `weights` (NaN counting
    0): Kahn's order, all pixels whose upslope is done at once. Returns one array per sum."""
    mfd = method == 'mfd'
    indeg = np.zeros(g.ok.shape, np.uint8)
    h, w = g.h, g.w
    for i in range(8):
        if mfd:
            e = q[i] > 0
        else:
            e = q == i
        e = e & g.ok
        tgt = g.ok[1 + DR[i]:h + 1 + DR[i], 1 + DC[i]:w + 1 + DC[i]]
        indeg[1 + DR[i]:h + 1 + DR[i], 1 + DC[i]:w + 1 + DC[i]] += e[1:-1, 1:-1] & tgt
    indeg = indeg.ravel()
    if mfd:
        qsum = q.sum(axis=0, dtype=np.int32).ravel()
    acc = np.zeros((1 + len(weights), g.n))
    acc[0] = np.where(g.okf, 1.0, 0.0)
    for j, wt in enumerate(weights):
        w0 = wt.ravel().astype(np.float64)
        acc[j + 1] = np.where(g.okf & np.isfinite(w0), w0, 0.0)
    front = np.flatnonzero(g.okf & (indeg == 0))
    while front.size:
        check()
        a = acc[:, front]
        if mfd:
            tot = qsum[front].astype(np.float64)
        moved = []
        for i in range(8):
            sel, t, wt = edges(g, q, mfd, i, front)
            if mfd:
                acc[:, t] += a[:, sel] * wt / tot[sel]
            else:
                acc[:, t] += a[:, sel]
            indeg[t] -= 1
            moved.append(t)
        moved = np.concatenate(moved)
        front = np.unique(moved[indeg[moved] == 0])
    return [np.where(g.okf, x, 0.0).reshape(g.ok.shape) for x in acc]


def streams(g, q, fa, method, threshold, trace=0.7):
    """Stream pixels. D8: accumulation > threshold (pygeoprocessing extract_streams_d8).
    MFD, as pygeoprocessing's extract_streams_mfd with trace_threshold_proportion `trace`:
    from each pixel >= threshold that drains off the region (in 256 x 256 block order, as it
    scans them), a breadth-first search upstream through pixels >= trace x threshold; those
    >= threshold are streams; one below it becomes a stream when a stream pixel upstream of it
    is reached after it, through pixels below the threshold that were reached before that one
    and had not become streams yet. The search runs level by level for all outlets at once and
    orders what it reaches by (outlet, level, queue position), which is the sequential order
    unless two outlets reach the same pixels."""
    faf = fa.ravel()
    if method != 'mfd':
        return (fa > threshold) & g.ok
    outlet = np.zeros(g.n, bool)
    for i in range(8):
        t = np.flatnonzero((q[i].ravel() > 0) & g.okf)
        t = t[~g.okf[t + g.off[i]]]
        outlet[t] = True
    outlet &= g.okf & (faf >= threshold)
    front = np.flatnonzero(outlet)
    row, col = front // g.wp - 1, front % g.wp - 1
    front = front[np.lexsort((col, row, col // 256, row // 256))]
    tree = np.full(g.n, -1, np.int32)            # the outlet whose search reached the pixel
    level = np.zeros(g.n, np.int32)
    rank = np.zeros(g.n, np.int32)               # queue position within the level
    tree[front] = np.arange(front.size)
    rank[front] = np.arange(front.size)
    step = 0
    while front.size:
        check()
        step += 1
        found, keys = [], []
        for i in range(8):
            u = front - g.off[i]                 # u flows into the front pixel in direction i
            sel = (g.okf[u] & (q[i].ravel()[u] > 0) & (tree[u] < 0)
                   & (faf[u] >= trace * threshold))
            found.append(u[sel])
            # the front pixel scans its neighbours in direction order (i + 4) % 8
            keys.append(np.flatnonzero(sel).astype(np.int64) * 8 + (i + 4) % 8)
        u, key = np.concatenate(found), np.concatenate(keys)
        o = np.argsort(key, kind='stable')
        u, key = u[o], key[o]
        u, first = np.unique(u, return_index=True)  # reached first from the earliest pixel
        o = np.argsort(key[first], kind='stable')
        u, key = u[o], key[first][o]
        tree[u] = tree[front[key // 8]]
        level[u] = step
        rank[u] = np.arange(u.size)
        front = u
    reach = np.flatnonzero(tree >= 0)
    order = np.full(g.n, np.iinfo(np.int64).max, np.int64)
    order[reach[np.lexsort((rank[reach], level[reach], tree[reach]))]] = np.arange(reach.size)
    strong = (tree >= 0) & (faf >= threshold)
    weak = (tree >= 0) & ~strong
    # time at which a pixel became a stream: a stream pixel when reached; a weak one at the
    # earliest such time carried down to it while it was still weak
    became = np.where(strong, order, np.iinfo(np.int64).max)
    front = np.flatnonzero(strong)
    while front.size:
        check()
        moved = []
        for i in range(8):
            sel, t, _ = edges(g, q, True, i, front)
            c = became[front[sel]]
            ok = weak[t] & (order[t] < c) & (c < became[t])
            t, c = t[ok], c[ok]
            became[t] = c
            moved.append(t)
        front = np.unique(np.concatenate(moved))
    return (strong | (weak & (became < np.iinfo(np.int64).max))).reshape(g.ok.shape)


def distance_to_stream(g, q, method, stream, weight):
    """Weighted flow distance down to a stream (pygeoprocessing distance_to_channel_mfd / _d8
    with a weight raster): 0 on streams; MFD the flow-weighted mean over the downstream
    neighbours that reach a stream of (weight of the neighbour + its distance); D8 the pixel's
    own weight + the distance of its downstream pixel. NaN where no stream is reached."""
    mfd = method == 'mfd'
    wf = weight.ravel().astype(np.float64)
    wf = np.where(np.isfinite(wf), wf, 0.0)
    sf = stream.ravel() & g.okf
    outdeg = np.zeros(g.n, np.uint8)
    for i in range(8):
        src = np.flatnonzero(g.okf & ~sf)
        sel, t, _ = edges(g, q, mfd, i, src)
        outdeg[src[sel]] += 1
    num = np.zeros(g.n)
    den = np.zeros(g.n)
    dist = np.full(g.n, np.nan)
    dist[sf] = 0.0
    front = np.flatnonzero(sf | (g.okf & (outdeg == 0)))
    while front.size:
        check()
        moved = []
        df = dist[front]
        for i in range(8):
            u = front - g.off[i]                 # u flows into the front pixel (direction i)
            if mfd:
                wt = q[i].ravel()[u]
                sel = g.okf[u] & ~sf[u] & (wt > 0)
            else:
                sel = g.okf[u] & ~sf[u] & (q.ravel()[u] == i)
            u, d = u[sel], df[sel]
            have = np.isfinite(d)
            if mfd:
                w8 = wt[sel][have].astype(np.float64)
                num[u[have]] += w8 * (wf[front[sel][have]] + d[have])
                den[u[have]] += w8
            else:
                num[u[have]] = wf[u[have]] + d[have]
                den[u[have]] = 1.0
            outdeg[u] -= 1
            moved.append(u)
        moved = np.concatenate(moved)
        moved = np.unique(moved[outdeg[moved] == 0])
        with np.errstate(invalid='ignore', divide='ignore'):
            dist[moved] = np.where(den[moved] > 0, num[moved] / den[moved], np.nan)
        front = moved
    return dist.reshape(g.ok.shape)


def sediment_delivery(g, q, method, fa, pct, stream, c, usle, k_b, ic_0, sdr_max):
    """InVEST 3.20.2 SDR: W = C (>= 0.001), S = slope (m/m, 0.005..1); D_up = W_bar S_bar
    sqrt(upslope area); D_dn = weighted distance to a stream of 1 / (W S); IC = log10(D_up /
    D_dn); SDR = SDR_max / (1 + exp((IC0 - IC) / k_b)), 1 on streams; export = USLE x SDR."""
    w = np.where(np.isfinite(c), np.maximum(c, np.float32(0.001)), np.nan).astype(np.float32)
    s = np.clip(pct / np.float32(100), np.float32(0.005), np.float32(1)).astype(np.float32)
    _, w_acc, s_acc = accumulate(g, q, method, (w, s))
    w_bar = w_acc / np.where(g.ok, fa, 1.0)
    s_bar = s_acc / np.where(g.ok, fa, 1.0)
    del w_acc, s_acc
    w_bar[~np.isfinite(w)] = np.nan
    d_up = w_bar * s_bar * np.sqrt(fa * g.cell ** 2)
    with np.errstate(divide='ignore'):
        ws_inv = (1 / (w * s)).astype(np.float32)
    d_dn = distance_to_stream(g, q, method, stream, ws_inv)
    ok = g.ok & np.isfinite(d_up) & np.isfinite(d_dn) & (d_dn != 0) & (d_up != 0)
    with np.errstate(divide='ignore', invalid='ignore'):
        ic = np.where(ok, np.log10(d_up / d_dn), np.nan).astype(np.float32)
        sdr = (sdr_max / (1 + np.exp((ic_0 - ic) / k_b))).astype(np.float32)
    sdr[stream & g.ok] = 1
    return sdr, (usle * sdr).astype(np.float32)


def ls_factor(pct, fa, cell, l_max):
    """InVEST 3.20.2 _calculate_ls_factor (pct: percent slope float32, fa: upslope pixels)."""
    cell_area = cell ** 2
    contributing_area = np.sqrt(np.maximum(fa - 1, 0) * cell_area)
    rad = np.arctan(pct / np.float32(100))
    aspect_length = np.fabs(np.sin(rad)) + np.fabs(np.cos(rad))
    slope_factor = np.where(pct < 9, 10.8 * np.sin(rad) + 0.03, 16.8 * np.sin(rad) - 0.5)
    beta = (np.sin(rad) / 0.0896) / (3 * np.sin(rad) ** 0.8 + 0.56)
    m_table = np.array([0.2, 0.3, 0.4, 0.5])
    big = pct > 9
    m_exp = np.empty(pct.shape, np.float32)
    m_exp[big] = beta[big] / (1 + beta[big])
    m_exp[~big] = m_table[np.digitize(pct[~big], np.array([1., 3.5, 5., 9.]), right=True)]
    l_factor = (((contributing_area + cell_area) ** (m_exp + 1)
                 - contributing_area ** (m_exp + 1))
                / ((cell ** (m_exp + 2)) * (aspect_length ** m_exp) * (22.13 ** m_exp)))
    l_factor = np.minimum(l_factor, l_max)
    return l_factor * slope_factor


# HJ 1173-2021 Table A.1: C by vegetation cover (FVC < 10 %, 10-30, 30-50, 50-70, 70-90,
# >= 90 %) for forest, shrub, grassland and orchards; constants for paddy, wetland,
# built-up land and desert; dry cropland C = 0.221 - 0.595 lg(FVC) (FVC a fraction; kept in
# 0..1)
FVC_BREAKS = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
C_BY_FVC = {'forest': (0.10, 0.08, 0.06, 0.02, 0.004, 0.001),
            'shrub': (0.40, 0.22, 0.14, 0.085, 0.040, 0.011),
            'grassland': (0.45, 0.24, 0.15, 0.09, 0.043, 0.011),
            'orchard': (0.42, 0.23, 0.14, 0.089, 0.042, 0.011),
            'shrub_orchard': (0.40, 0.22, 0.14, 0.087, 0.042, 0.011)}
C_CONSTANT = {'paddy': 0.0, 'wetland': 0.0, 'settlement': 0.01, 'desert': 0.7}


def c_from_fvc(kind, fvc):
    """HJ 1173 Table A.1 C factor of a cover kind at the given FVC (fraction); NaN where FVC
    is missing or the kind has no rule."""
    f = np.asarray(fvc, np.float64)
    out = np.full(f.shape, np.nan)
    has = np.isfinite(f)
    if kind in C_BY_FVC:
        out[has] = np.asarray(C_BY_FVC[kind])[np.digitize(f[has], FVC_BREAKS)]
    elif kind in C_CONSTANT:
        out[has] = C_CONSTANT[kind]
    elif kind == 'dry_cropland':
        with np.errstate(divide='ignore'):
            out[has] = np.clip(0.221 - 0.595 * np.log10(np.clip(f[has], 0, 1)), 0, 1)
    return out.astype(np.float32)


def erosion_class(loss_t_per_ha, micro):
    """SL 190 intensity class of soil loss (t/ha/yr -> t/(km2 yr)), 1 micro .. 6 severe."""
    x = np.asarray(loss_t_per_ha, np.float64) * 100.0
    return (np.digitize(x, np.array((micro,) + CLASS_BREAKS)) + 1).astype(np.float32)


def soil(dem, ok, r, k, cp, cell, method='mfd', threshold=1000.0, l_max=122.0,
         micro=500.0, c=None, sdr=(2.0, 0.5, 0.8)):
    """The whole chain on padded arrays (h + 2, w + 2) whose border is invalid.
    dem, r, k float32; ok bool (the mutual mask); cp float32, NaN where C or P is missing;
    c (float32, NaN where missing) and sdr = (k_b, IC0, SDR_max) for the sediment delivery
    ratio (not computed without c). Returns a dict of padded arrays (float32 unless noted)."""
    if method not in ('mfd', 'd8'):
        plpy.error('flow_direction must be mfd or d8, not %r' % (method,))
    g = Grid(ok)
    g.cell = float(cell)
    z = fill_pits(g, np.where(ok, dem, 0).astype(np.float32))
    r = np.where(ok, r, 0).astype(np.float32)
    k = np.where(ok, k, 0).astype(np.float32)
    pct = slope_percent(g, z)
    q = route(g, z, method)
    fa = accumulate(g, q, method)[0]
    stream = streams(g, q, fa, method, threshold)
    ls = np.zeros(ok.shape, np.float32)
    rkls = np.zeros(ok.shape, np.float32)
    for r0, r1 in g.chunks():
        sl = slice(r0, r1)
        v = ls_factor(pct[sl], fa[sl], g.cell, l_max)
        ls[sl] = np.where(ok[sl], v, 0)
        x = (v * r[sl] * k[sl]).astype(np.float32)
        rkls[sl] = np.where(ok[sl] & ~stream[sl], x, 0)
    usle = rkls * cp
    out = {'filled': z, 'slope_pct': pct, 'fa': fa, 'stream': stream, 'ls': ls,
           'rkls': rkls, 'usle': usle, 'retention': rkls - usle,
           'erosion_class': np.where(np.isnan(usle), np.nan, erosion_class(usle, micro))}
    if c is not None:
        out['sdr'], out['sed_export'] = sediment_delivery(g, q, method, fa, pct, stream, c,
                                                          usle, *sdr)
    return out


GD['ecorest_soil'] = {'soil': soil, 'fill_pits': fill_pits, 'slope_percent': slope_percent,
                      'route': route, 'accumulate': accumulate, 'streams': streams,
                      'distance_to_stream': distance_to_stream,
                      'sediment_delivery': sediment_delivery,
                      'ls_factor': ls_factor, 'erosion_class': erosion_class, 'Grid': Grid,
                      'c_from_fvc': c_from_fvc,
                      'MICRO': MICRO}
return True
$$;
comment on function raster.np_soil_loaded() is
  'Loads the soil-retention routines (fill, slope, MFD/D8 routing, accumulation, streams, LS, '
  'SL 190 classes) into the session';

-- Soil retention of one land-cover epoch over the whole region (PL/Python + numpy): the tiles of
-- the DEM, R (erosivity), K (erodibility) and land-cover catalog entries are read and assembled
-- into one array each (physical values: stored x scale + offset, in the order dem, erosivity,
-- erodibility), the land cover is mapped to C x P (p_codes, p_usle_c, p_usle_p; a class
-- without C or P gives nodata in bands 2, 3 and 7), the chain of raster.np_soil_loaded() runs
-- over the region, and the results come back as 32BF tiles on the DEM's tiles (nodata outside
-- the valid pixels):
--   1 soil_loss_potential (RKLS, t/ha/yr)   2 soil_loss (USLE, t/ha/yr)
--   3 soil_retention (RKLS - USLE, t/ha/yr) 4 ls    5 stream (1/0)
--   6 flow_accumulation (upslope pixels, itself included)   7 erosion_class (SL 190, 1..6)
--   8 sdr (sediment delivery ratio, 1 on streams)   9 sed_export (USLE x SDR, t/ha/yr)
-- p_flow_direction: mfd | d8; p_threshold: upslope pixels that make a stream; p_l_max: cap of
-- the slope-length factor L; p_erosion_region: the SL 190 region type (micro threshold);
-- p_sdr_k_b, p_sdr_ic_0, p_sdr_max: Borselli k, IC0 and the largest SDR.
-- A class without usle_c takes C from the HJ 1173 Table A.1 rules where p_fvc (an FVC catalog
-- entry, fraction = stored x p_fvc_scale + p_fvc_offset) is given and p_fvc_codes /
-- p_fvc_kinds name its cover kind (forest, shrub, grassland, orchard, shrub_orchard,
-- dry_cropland, paddy, wetland, settlement, desert); its P still comes from usle_p.
drop function if exists raster.np_soil_tiles(bigint, bigint, bigint, bigint, double precision[],
  double precision[], integer[], double precision[], double precision[], text,
  double precision, double precision, text);
drop function if exists raster.np_soil_tiles(bigint, bigint, bigint, bigint, double precision[],
  double precision[], integer[], double precision[], double precision[], text,
  double precision, double precision, text, double precision, double precision,
  double precision);
create or replace function raster.np_soil_tiles(
    p_dem bigint, p_erosivity bigint, p_erodibility bigint, p_landcover bigint,
    p_scales double precision[], p_offsets double precision[],
    p_codes integer[], p_usle_c double precision[], p_usle_p double precision[],
    p_flow_direction text default 'mfd', p_threshold double precision default 1000,
    p_l_max double precision default 122, p_erosion_region text default 'southwest',
    p_sdr_k_b double precision default 2, p_sdr_ic_0 double precision default 0.5,
    p_sdr_max double precision default 0.8, p_fvc bigint default null,
    p_fvc_scale double precision default 1, p_fvc_offset double precision default 0,
    p_fvc_codes integer[] default null, p_fvc_kinds text[] default null)
returns table (tile_x integer, tile_y integer, rast bytea)
language plpython3u stable as $$
import numpy as np
if 'ecorest_soil' not in GD:
    plpy.execute('select raster.np_soil_loaded()')
S = GD['ecorest_soil']
decode, encode, check = GD['ecorest_decode'], GD['ecorest_encode'], GD['ecorest_check']
if p_erosion_region not in S['MICRO']:
    plpy.error('erosion_region must be one of %s, not %r'
               % (', '.join(sorted(S['MICRO'])), p_erosion_region))
if p_flow_direction not in ('mfd', 'd8'):
    plpy.error('flow_direction must be mfd or d8, not %r' % (p_flow_direction,))
if p_threshold is None or p_threshold < 1 or p_l_max is None or p_l_max <= 0:
    plpy.error('threshold_flow_accumulation must be >= 1 and l_max > 0')
if (p_sdr_k_b is None or p_sdr_k_b <= 0 or p_sdr_ic_0 is None or p_sdr_max is None
        or not 0 < p_sdr_max <= 1):
    plpy.error('sdr_k_b must be > 0, sdr_ic_0 given and sdr_max in (0, 1]')
if None in (p_dem, p_erosivity, p_erodibility, p_landcover):
    return []
scales = list(p_scales or [1, 1, 1]) + [1] * 3
offsets = list(p_offsets or [0, 0, 0]) + [0] * 3
ext = plpy.execute(plpy.prepare(
    'select min(tile_x) x0, max(tile_x) x1, min(tile_y) y0, max(tile_y) y1 '
    'from raster.tiles where catalog_id = $1', ['bigint']), [p_dem])[0]
if ext['x0'] is None:
    return []
x0, x1, y0, y1 = ext['x0'], ext['x1'], ext['y0'], ext['y1']
plan = plpy.prepare(
    'select tile_x, tile_y, rast::bytea as b from raster.tiles where catalog_id = $1 '
    'and tile_x between $2 and $3 and tile_y between $4 and $5', ['bigint'] + ['integer'] * 4)
state = {}


def read(catalog_id, dtype, scale=1.0, offset=0.0, keep=False):
    # one layer's tiles on one array (padded by an invalid border of one pixel)
    arr = ok = None
    for row in plpy.cursor(plan, [catalog_id, x0, x1, y0, y1]):
        check()
        v, m, geo = decode(row['b'], with_geo=True)
        t = v.shape[0]
        if arr is None:
            if 't' not in state:
                state['t'], state['cell'] = t, abs(geo[0])
                if abs(abs(geo[0]) - abs(geo[1])) > 1e-9 * abs(geo[0]):
                    plpy.error('soil retention needs square pixels, not %g x %g'
                               % (abs(geo[0]), abs(geo[1])))
            shape = ((y1 - y0 + 1) * state['t'] + 2, (x1 - x0 + 1) * state['t'] + 2)
            arr = np.zeros(shape, dtype)
            ok = np.zeros(shape, bool)
        if v.shape != (state['t'], state['t']):
            plpy.error('tile (%d, %d) of catalog entry %d is %s, not %d x %d pixels'
                       % (row['tile_x'], row['tile_y'], catalog_id, v.shape, state['t'],
                          state['t']))
        r = (row['tile_y'] - y0) * state['t'] + 1
        c = (row['tile_x'] - x0) * state['t'] + 1
        if dtype == np.float32:
            arr[r:r + state['t'], c:c + state['t']] = v * scale + offset
        else:
            arr[r:r + state['t'], c:c + state['t']] = v
        ok[r:r + state['t'], c:c + state['t']] = m
        if keep:
            state.setdefault('headers', {})[(row['tile_x'], row['tile_y'])] = bytes(row['b'][:61])
    return arr, ok


dem, ok = read(p_dem, np.float32, scales[0], offsets[0], keep=True)
if dem is None:
    return []
r, m = read(p_erosivity, np.float32, scales[1], offsets[1])
if r is None:
    return []
ok &= m
k, m = read(p_erodibility, np.float32, scales[2], offsets[2])
if k is None:
    return []
ok &= m
lc, m = read(p_landcover, np.int64)
if lc is None:
    return []
ok &= m & np.isfinite(dem) & np.isfinite(r) & np.isfinite(k)
del m
# C x P of each class (float32, as InVEST's cp raster); NaN where a class has no C or no P;
# C alone is the W of the sediment delivery ratio
cp = np.full(dem.shape, np.nan, np.float32)
cc = np.full(dem.shape, np.nan, np.float32)
for code, c, p in zip(p_codes or [], p_usle_c or [], p_usle_p or []):
    if code is not None and c is not None:
        cc[ok & (lc == code)] = np.float32(c)
        if p is not None:
            cp[ok & (lc == code)] = np.float32(c * p)
# classes without usle_c: C from the vegetation cover (HJ 1173 Table A.1), P from usle_p
given_c = {code for code, c in zip(p_codes or [], p_usle_c or []) if c is not None}
usle_p = {code: p for code, p in zip(p_codes or [], p_usle_p or []) if p is not None}
todo = [(code, kind) for code, kind in zip(p_fvc_codes or [], p_fvc_kinds or [])
        if code is not None and kind is not None and code not in given_c]
if p_fvc is not None and todo:
    fvc, m = read(p_fvc, np.float32, 1.0 if p_fvc_scale is None else p_fvc_scale,
                  0.0 if p_fvc_offset is None else p_fvc_offset)
    if fvc is not None:
        fvc[~m] = np.nan
        for code, kind in todo:
            check()
            sel = ok & (lc == code)
            c = S['c_from_fvc'](kind, fvc[sel])
            cc[sel] = c
            if code in usle_p:
                cp[sel] = c * np.float32(usle_p[code])
        del fvc, m
del lc
res = S['soil'](dem, ok, r, k, cp, state['cell'], p_flow_direction, p_threshold, p_l_max,
                S['MICRO'][p_erosion_region], cc, (p_sdr_k_b, p_sdr_ic_0, p_sdr_max))
del dem, r, k, cp, cc
bands = ('rkls', 'usle', 'retention', 'ls', 'stream', 'fa', 'erosion_class', 'sdr',
         'sed_export')
t = state['t']


def tiles():
    for (tx, ty), header in sorted(state['headers'].items()):
        check()
        r0 = (ty - y0) * t + 1
        c0 = (tx - x0) * t + 1
        sub = ok[r0:r0 + t, c0:c0 + t]
        if not sub.any():
            continue
        out = []
        for b in bands:
            a = res[b][r0:r0 + t, c0:c0 + t].astype(np.float64)
            out.append(np.where(sub, a, np.nan))
        yield tx, ty, encode(header, out)


return tiles()
$$;
comment on function raster.np_soil_tiles(bigint, bigint, bigint, bigint, double precision[],
  double precision[], integer[], double precision[], double precision[], text,
  double precision, double precision, text, double precision, double precision,
  double precision, bigint, double precision, double precision, integer[], text[]) is
  'RUSLE soil loss (potential and actual), soil retention, LS, streams, flow accumulation, '
  'SL 190 erosion class, SDR and sediment export of one land-cover epoch over the whole '
  'region, as 9-band 32BF tiles';
