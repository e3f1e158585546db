-- annual water yield and actual evapotranspiration (InVEST 3.20.2 annual water yield,
-- Budyko-Zhang) and the HJ 1173 water conservation (P - R - ET), in mm/yr, per land-cover
-- epoch and tile (raster.np_water_yield; docs/SERVICES.md). Bands (32BF, nodata -9999):
-- 1 water_yield_mm, 2 aet_mm, 3 water_conservation_mm.
-- Rows only where the inputs exist (no guess): precipitation, and either ET0, PAWC, soil depth
-- with the per-class kc, root_depth and lulc_veg (water yield; water conservation too when
-- runoff_coefficient is given), or an aet layer with runoff_coefficient (water conservation).
with params as (
    select class_code, parameter, value
    from {{ ref('stg_registry__service_parameters') }}
    where parameter in ('kc', 'root_depth', 'lulc_veg', 'runoff_coefficient')
      and class_code is not null
),

per_class as (
    select class_code,
           max(value) filter (where parameter = 'kc') as kc,
           max(value) filter (where parameter = 'root_depth') as root_depth,
           max(value) filter (where parameter = 'lulc_veg') as lulc_veg,
           max(value) filter (where parameter = 'runoff_coefficient') as runoff_coefficient
    from params
    group by class_code
),

classes as (
    select array_agg(class_code order by class_code) as codes,
           array_agg(kc order by class_code) as kc,
           array_agg(root_depth order by class_code) as root_depth,
           array_agg(lulc_veg order by class_code) as lulc_veg,
           array_agg(runoff_coefficient order by class_code) as runoff_coefficient,
           coalesce(bool_or(kc is not null) and bool_or(root_depth is not null)
                    and bool_or(lulc_veg is not null), false) as has_budyko,
           coalesce(bool_or(runoff_coefficient is not null), false) as has_runoff
    from per_class
),

epochs as (
    {{ service_epoch_layers([('precip', 'precip'), ('et0', 'et0'), ('pawc', 'pawc'),
                             ('soil_depth', 'soil_depth'), ('aet', 'aet')]) }}
),

computable as (
    select e.*, k.*
    from epochs as e
    cross join classes as k
    where e.precip_id is not null
      and ((k.has_budyko and e.et0_id is not null and e.pawc_id is not null
            and e.soil_depth_id is not null)
           or (k.has_runoff and e.aet_id is not null))
),

tiles as (
    select
        c.landcover_catalog_id,
        c.landcover_epoch as epoch_label,
        t.tile_x,
        t.tile_y,
        st_rastfromwkb(raster.np_water_yield(
            t.rast::bytea, p.rast::bytea, et.rast::bytea, pw.rast::bytea, sd.rast::bytea,
            ae.rast::bytea, c.scales, c.offsets, c.codes, c.kc, c.root_depth, c.lulc_veg,
            c.runoff_coefficient, {{ var('zhang_z') }})) as rast
    from computable as c
    cross join {{ entry_tiles('c.landcover_catalog_id') }} as t
    join {{ entry_tiles('c.precip_id') }} as p
        on p.tile_x = t.tile_x and p.tile_y = t.tile_y
    left join {{ entry_tiles('c.et0_id') }} as et
        on et.tile_x = t.tile_x and et.tile_y = t.tile_y
    left join {{ entry_tiles('c.pawc_id') }} as pw
        on pw.tile_x = t.tile_x and pw.tile_y = t.tile_y
    left join {{ entry_tiles('c.soil_depth_id') }} as sd
        on sd.tile_x = t.tile_x and sd.tile_y = t.tile_y
    left join {{ entry_tiles('c.aet_id') }} as ae
        on ae.tile_x = t.tile_x and ae.tile_y = t.tile_y
)

select landcover_catalog_id, epoch_label, tile_x, tile_y, rast
from tiles
where rast is not null
