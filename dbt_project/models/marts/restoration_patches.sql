{{ config(pre_hook="{{ delete_this_run() }}",
          post_hook="{{ ensure_primary_key(['patch_id']) }}") }}
-- restoration patches: contiguous areas (edge-connected pixels) of one priority grade up to
-- patch_max_grade, of at least min_patch_ha, with their mean scores, dominant factors and
-- the administrative units they lie in. Connected components of the grade raster: the parts
-- of each tile with their pixel counts and band sums (int_patch_parts: raster.np_patch_parts
-- once per tile, in parallel workers), merged across tile borders where parts of one grade
-- share a pixel edge (int_patch_components: raster.np_components); only the patches large
-- enough are polygonised, per tile in parallel workers (int_patch_tiles drives
-- raster.np_patch_raster and ST_DumpAsPolygons in a subquery's select list), and their tile
-- pieces unioned here
with pieces as (
    select (d.p).val::int as code, (d.p).geom as geom
    from (
        select st_dumpaspolygons(st_rastfromwkb(raster.np_patch_raster(
                   pt.rast::bytea, {{ var('patch_max_grade') }}, c.parts, c.codes)), 1, true) as p
        from {{ ref('int_patch_tiles') }} as c
        join {{ ref('priority_tiles') }} as pt
            on pt.run_id = {{ var('run_id') }} and pt.tile_x = c.tile_x and pt.tile_y = c.tile_y
    ) as d
),

candidates as (
    select code, min(root) as root, min(grade) as grade
    from {{ ref('int_patch_components') }}
    where code is not null
    group by code
),

shapes as (
    select code, st_union(geom) as g from pieces group by code
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
    join {{ ref('int_patch_components') }} as pc on pc.root = p.root
    join {{ ref('int_patch_parts') }} as pp
        on pp.tile_x = pc.tile_x and pp.tile_y = pc.tile_y and pp.part = pc.part
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
