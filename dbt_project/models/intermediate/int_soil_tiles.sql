-- soil retention (RUSLE, as InVEST 3.20.2's SDR model computes RKLS, USLE, avoided erosion,
-- the sediment delivery ratio and sediment export) and the SL 190 soil-erosion class of every
-- land-cover epoch whose DEM, erosivity (R) and erodibility (K) exist, over the whole region at
-- once so that tiles never cut flow paths (raster.np_soil_tiles, sql/060_soil.sql; 9 bands). An epoch missing one of them has no rows;
-- a class without usle_c or usle_p in the services parameter set has nodata soil loss,
-- retention and class (never a guessed factor).
with inputs as (
    select
        landcover_catalog_id,
        landcover_epoch,
        max(catalog_id) filter (where layer = 'dem') as dem_id,
        max(catalog_id) filter (where layer = 'erosivity') as erosivity_id,
        max(catalog_id) filter (where layer = 'erodibility') as erodibility_id,
        array[
            coalesce(max(scale_factor) filter (where layer = 'dem'), 1),
            coalesce(max(scale_factor) filter (where layer = 'erosivity'), 1),
            coalesce(max(scale_factor) filter (where layer = 'erodibility'), 1)
        ]::float8[] as scales,
        array[
            coalesce(max(add_offset) filter (where layer = 'dem'), 0),
            coalesce(max(add_offset) filter (where layer = 'erosivity'), 0),
            coalesce(max(add_offset) filter (where layer = 'erodibility'), 0)
        ]::float8[] as offsets
    from {{ ref('stg_raster__service_layers') }}
    where layer in ('dem', 'erosivity', 'erodibility')
    group by landcover_catalog_id, landcover_epoch
),

class_factors as (
    select
        class_code,
        max(value) filter (where parameter = 'usle_c') as usle_c,
        max(value) filter (where parameter = 'usle_p') as usle_p
    from {{ ref('stg_registry__service_parameters') }}
    where parameter in ('usle_c', 'usle_p') and class_code is not null
    group by class_code
),

factor_arrays as (
    select
        array_agg(class_code order by class_code) as codes,
        array_agg(usle_c order by class_code) as usle_c,
        array_agg(usle_p order by class_code) as usle_p
    from class_factors
)

select
    i.landcover_catalog_id,
    i.landcover_epoch as epoch_label,
    s.tile_x,
    s.tile_y,
    st_rastfromwkb(s.rast) as rast
from inputs as i
cross join factor_arrays as f
cross join lateral raster.np_soil_tiles(
    i.dem_id, i.erosivity_id, i.erodibility_id, i.landcover_catalog_id,
    i.scales, i.offsets, f.codes, f.usle_c, f.usle_p,
    '{{ var("flow_direction") }}', {{ var('threshold_flow_accumulation') }},
    {{ var('l_max') }}, '{{ var("erosion_region") }}',
    {{ var('sdr_k_b') }}, {{ var('sdr_ic_0') }}, {{ var('sdr_max') }}) as s
where i.dem_id is not null and i.erosivity_id is not null and i.erodibility_id is not null
