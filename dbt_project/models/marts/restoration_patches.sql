{{ config(pre_hook="{{ delete_this_run() }}",
          post_hook="{{ ensure_primary_key(['patch_id']) }}") }}
-- restoration patches: contiguous areas (edge-connected pixels) of one priority grade up to
-- patch_max_grade, of at least min_patch_ha, with their mean scores, dominant factors and
-- the administrative units they lie in
with pt as (
    select * from {{ ref('priority_tiles') }} where run_id = {{ var('run_id') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

px as (
    select (st_dumpaspolygons(pt.rast, 1, true)).*
    from pt
),

merged as (
    select val::int as grade, st_union(geom) as g
    from px
    where val between 1 and {{ var('patch_max_grade') }}
    group by val::int
),

parts as (
    select m.grade, d.geom as g
    from merged as m cross join lateral st_dump(m.g) as d
),

patches as (
    select grade, g, st_area(g) / 10000.0 as area_ha,
           row_number() over (order by grade, st_area(g) desc)::int as patch_no
    from parts
    where st_area(g) / 10000.0 >= {{ var('min_patch_ha') }}
),

burnt as (
    select b.*
    from {{ ref('int_ident_reference') }} as ref
    cross join (select array_agg(patch_no) as codes, array_agg(g) as geoms from patches) as p
    cross join lateral raster.burn_tiles(ref.catalog_id, p.codes, p.geoms) as b
    where p.codes is not null
),

sums as (
    select z.zone_id as patch_no, z.band, sum(z.pixels) as pixels, sum(z.total) as total
    from burnt
    join pt on pt.tile_x = burnt.tile_x and pt.tile_y = burnt.tile_y
    cross join lateral raster.np_zonal(burnt.rast::bytea, pt.rast::bytea) as z
    group by z.zone_id, z.band
),

factors as (
    select factor_no, factor from {{ ref('int_factor_weights') }}
),

dominant as (
    select s.patch_no,
           string_agg(f.factor, ', ' order by s.total desc) filter (where s.rk <= 2)
               as dominant_factors
    from (select s.*, row_number() over (partition by patch_no order by total desc) as rk
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
