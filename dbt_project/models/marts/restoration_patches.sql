{{ config(pre_hook="{{ delete_this_run() }}",
          post_hook="{{ ensure_primary_key(['patch_id']) }}") }}
-- restoration patches: contiguous areas (edge-connected pixels) of one priority grade up to
-- patch_max_grade, of at least min_patch_ha, with their mean scores, dominant factors and
-- the administrative units they lie in. Connected components of the grade raster: the parts
-- of each tile with their pixel counts and band sums (int_patch_parts: raster.np_patch_parts
-- once per tile, in parallel workers), merged here across tile borders where parts of one
-- grade share a pixel edge (raster.np_components); only the patches large enough are
-- polygonised (raster.np_patch_raster, their tile pieces unioned)
with pt as (
    select tile_x, tile_y, rast from {{ ref('priority_tiles') }}
    where run_id = {{ var('run_id') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

nodes as (
    -- parts numbered in (tile, part) order: a component's root is its first part
    select row_number() over (order by p.tile_x, p.tile_y, p.part) as node, p.*
    from {{ ref('int_patch_parts') }} as p
),

border as (
    select n.node, n.grade, k.edge_key
    from nodes as n cross join lateral unnest(n.edge_keys) as k(edge_key)
),

edges as (
    select distinct a.node as a, b.node as b
    from border as a
    join border as b on b.edge_key = a.edge_key and b.grade = a.grade and b.node > a.node
),

components as (
    select c.node, c.root
    from (select array_agg(a) as a, array_agg(b) as b from edges) as e
    cross join lateral raster.np_components(e.a, e.b) as c
),

patch_parts as (
    select n.*, coalesce(c.root, n.node) as root
    from nodes as n left join components as c on c.node = n.node
),

candidates as (
    -- pixel count x pixel area with a margin: the polygon area decides below
    select s.root, s.grade, row_number() over (order by s.root)::int as code
    from (select root, min(grade) as grade, sum(pixels) as pixels
          from patch_parts group by root) as s
    cross join region as r
    where s.pixels * r.pixel_area_ha >= {{ var('min_patch_ha') }} * 0.999
),

coded as (
    select p.tile_x, p.tile_y, array_agg(p.part) as parts, array_agg(c.code) as codes
    from patch_parts as p join candidates as c on c.root = p.root
    group by p.tile_x, p.tile_y
),

pieces as (
    select (st_dumpaspolygons(st_rastfromwkb(raster.np_patch_raster(
                pt.rast::bytea, {{ var('patch_max_grade') }}, c.parts, c.codes)), 1, true)).*
    from coded as c
    join pt on pt.tile_x = c.tile_x and pt.tile_y = c.tile_y
),

shapes as (
    select val::int as code, st_union(geom) as g from pieces group by val::int
),

patches as (
    select c.root, c.grade, s.g, st_area(s.g) / 10000.0 as area_ha,
           row_number() over (order by c.grade, st_area(s.g) desc, c.root)::int as patch_no
    from shapes as s
    join candidates as c on c.code = s.code
    where st_area(s.g) / 10000.0 >= {{ var('min_patch_ha') }}
),

sums as (
    select p.patch_no, u.band::int as band, sum(u.px) as pixels, sum(u.total) as total
    from patches as p
    join patch_parts as pp on pp.root = p.root
    cross join lateral unnest(pp.band_pixels, pp.band_totals) with ordinality
        as u(px, total, band)
    group by p.patch_no, u.band
    having sum(u.px) > 0
),

factors as (
    select factor_no, factor from {{ ref('int_factor_weights') }}
),

dominant as (
    -- the two largest weighted contributions (equal ones: in factor order)
    select s.patch_no,
           string_agg(f.factor, ', ' order by s.total desc, s.band) filter (where s.rk <= 2)
               as dominant_factors
    from (select s.*, row_number() over (partition by patch_no order by total desc, band) as rk
          from sums as s where band >= 8 and total > 0) as s
    join factors as f on f.factor_no = s.band - 7
    group by s.patch_no
),

means as (
    select patch_no,
           max(total / pixels) filter (where band = 2) as mean_composite,
           max(total / pixels) filter (where band = 3) as mean_degradation,
           max(total / pixels) filter (where band = 4) as mean_importance
    from sums group by patch_no
),

admin as (
    select p.patch_no,
           string_agg(z.zone_code, ',' order by st_area(st_intersection(z.geom, p.g4326)) desc)
               as admin_codes
    from (select patch_no, st_transform(g, 4326) as g4326 from patches) as p
    join {{ ref('stg_registry__zones') }} as z
        on z.zone_set = 'admin' and st_intersects(z.geom, p.g4326)
    group by p.patch_no
)

select
    {{ var('run_id') }}::bigint * 1000000 + p.patch_no as patch_id,
    {{ var('run_id') }}::bigint as run_id,
    p.patch_no,
    p.grade,
    g.name_en as grade_name_en,
    g.name_zh as grade_name_zh,
    p.area_ha,
    m.mean_composite,
    m.mean_degradation,
    m.mean_importance,
    d.dominant_factors,
    a.admin_codes,
    st_multi(st_transform(p.g, 4326))::geometry(MultiPolygon, 4326) as geom
from patches as p
join {{ ref('priority_grades') }} as g on g.grade = p.grade
left join means as m on m.patch_no = p.patch_no
left join dominant as d on d.patch_no = p.patch_no
left join admin as a on a.patch_no = p.patch_no
