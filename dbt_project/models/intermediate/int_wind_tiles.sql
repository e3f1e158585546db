-- windbreak and sand fixation by RWEQ (HJ 1173; docs/SERVICES.md) per land-cover epoch and
-- tile (raster.np_wind_erosion). Bands (32BF, t/ha/yr, nodata -9999): 1 wind_loss_potential
-- (bare soil), 2 wind_loss (with the vegetation cover), 3 sand_fixation (potential - actual).
-- Rows only where every input exists (no guess): wind_factor, dem, soil_sand, soil_silt,
-- soil_clay, soil_om, soil_caco3 and the vegetation cover (an fvc layer, else NDVI by the
-- dimidiate model with the region's fvc_ndvi_soil_pct / fvc_ndvi_veg_pct percentiles);
-- snow_cover is optional. C = exp(a_i SC): a_i from rweq_cover_coefficient, else by the
-- legend's ecosystem type (forest -0.1535, grassland -0.1151, desert -0.0658, other (bare)
-- -0.0768, cropland -0.0438); wetland and settlement classes have none (no result).
with coefficients as (
    select coalesce(p.class_code, d.class_code) as class_code,
           coalesce(p.value, d.value) as value
    from (
        select class_code, max(value) as value
        from {{ ref('stg_registry__service_parameters') }}
        where parameter = 'rweq_cover_coefficient' and class_code is not null
        group by class_code
    ) as p
    full join (
        select class_code,
               case ecosystem_type
                   when 'forest' then -0.1535 when 'grassland' then -0.1151
                   when 'desert' then -0.0658 when 'other' then -0.0768
                   when 'cropland' then -0.0438
               end as value
        from {{ ref('stg_registry__legend_classes') }}
    ) as d on d.class_code = p.class_code
),

lut as (
    select array_agg(class_code order by class_code) as codes,
           array_agg(value order by class_code) as vals
    from coefficients
    where value is not null
),

epochs as (
    {{ service_epoch_layers([('wind_factor', 'wf'), ('snow_cover', 'snow'), ('dem', 'dem'),
                             ('soil_sand', 'sand'), ('soil_silt', 'silt'), ('soil_clay', 'clay'),
                             ('soil_om', 'om'), ('soil_caco3', 'caco3')], veg=true) }}
),

computable as (
    select * from epochs
    where wf_id is not null and dem_id is not null and sand_id is not null
      and silt_id is not null and clay_id is not null and om_id is not null
      and caco3_id is not null and veg_id is not null
),

-- NDVI end members of the dimidiate model: percentiles of the NDVI epoch over the region
-- (1000-bin histogram of the stored values, then scale and offset)
{{ ndvi_end_members(9) }},

tiles as (
    select
        c.landcover_catalog_id,
        c.landcover_epoch as epoch_label,
        t.tile_x,
        t.tile_y,
        st_rastfromwkb(raster.np_wind_erosion(
            t.rast::bytea, wf.rast::bytea, sn.rast::bytea,
            array(select d.rast::bytea from {{ source('raster', 'tiles') }} as d
                  where d.catalog_id = c.dem_id
                    and d.tile_x between t.tile_x - 1 and t.tile_x + 1
                    and d.tile_y between t.tile_y - 1 and t.tile_y + 1),
            array[sa.rast::bytea, si.rast::bytea, cl.rast::bytea, om.rast::bytea,
                  ca.rast::bytea],
            v.rast::bytea, c.scales, c.offsets, ne.ndvi_soil, ne.ndvi_veg, k.codes, k.vals,
            {{ var('rweq_z_m', 50) }})) as rast
    from computable as c
    cross join lut as k
    left join ndvi_ends as ne on ne.catalog_id = c.veg_id and not c.veg_is_fvc
    cross join {{ entry_tiles('c.landcover_catalog_id') }} as t
    join {{ entry_tiles('c.wf_id') }} as wf
        on wf.tile_x = t.tile_x and wf.tile_y = t.tile_y
    join {{ entry_tiles('c.veg_id') }} as v
        on v.tile_x = t.tile_x and v.tile_y = t.tile_y
    left join {{ entry_tiles('c.snow_id') }} as sn
        on sn.tile_x = t.tile_x and sn.tile_y = t.tile_y
    left join {{ entry_tiles('c.sand_id') }} as sa
        on sa.tile_x = t.tile_x and sa.tile_y = t.tile_y
    left join {{ entry_tiles('c.silt_id') }} as si
        on si.tile_x = t.tile_x and si.tile_y = t.tile_y
    left join {{ entry_tiles('c.clay_id') }} as cl
        on cl.tile_x = t.tile_x and cl.tile_y = t.tile_y
    left join {{ entry_tiles('c.om_id') }} as om
        on om.tile_x = t.tile_x and om.tile_y = t.tile_y
    left join {{ entry_tiles('c.caco3_id') }} as ca
        on ca.tile_x = t.tile_x and ca.tile_y = t.tile_y
    where k.codes is not null
)

select landcover_catalog_id, epoch_label, tile_x, tile_y, rast
from tiles
where rast is not null
