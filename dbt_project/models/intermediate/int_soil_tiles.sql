-- soil retention (RUSLE, as InVEST 3.20.2's SDR model computes RKLS, USLE, avoided erosion,
-- the sediment delivery ratio and sediment export) and the SL 190 soil-erosion class of every
-- land-cover epoch whose DEM, erosivity (R) and erodibility (K) exist, over the whole region at
-- once so that tiles never cut flow paths (raster.np_soil_tiles, sql/060_soil.sql; 9 bands). An epoch missing one of them has no rows;
-- a class without usle_c or usle_p in the services parameter set has nodata soil loss,
-- retention and class (never a guessed factor), except that a class without usle_c takes C
-- from the epoch's fvc layer by HJ 1173 Table A.1 where its legend gives the ecosystem type
-- (forest, grassland, wetland, settlement, desert; cropland with its cropland_kind: annual =
-- dry cropland, paddy, perennial = orchard).
with inputs as (
    select
        landcover_catalog_id,
        landcover_epoch,
        max(catalog_id) filter (where layer = 'dem') as dem_id,
        max(catalog_id) filter (where layer = 'erosivity') as erosivity_id,
        max(catalog_id) filter (where layer = 'erodibility') as erodibility_id,
        max(catalog_id) filter (where layer = 'fvc') as fvc_id,
        coalesce(max(scale_factor) filter (where layer = 'fvc'), 1) as fvc_scale,
        coalesce(max(add_offset) filter (where layer = 'fvc'), 0) as fvc_offset,
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
    where layer in ('dem', 'erosivity', 'erodibility', 'fvc')
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
),

-- the HJ 1173 Table A.1 cover kind of each class (used where the class has no usle_c)
cover_kinds as (
    select
        array_agg(class_code order by class_code) as codes,
        array_agg(kind order by class_code) as kinds
    from (
        select
            class_code,
            case ecosystem_type
                when 'forest' then 'forest'
                when 'grassland' then 'grassland'
                when 'wetland' then 'wetland'
                when 'settlement' then 'settlement'
                when 'desert' then 'desert'
                when 'cropland' then case cropland_kind
                    when 'annual' then 'dry_cropland'
                    when 'paddy' then 'paddy'
                    when 'perennial' then 'orchard' end
            end as kind
        from {{ ref('int_landcover_classes') }}
    ) as k
    where kind is not null
)

select
    i.landcover_catalog_id,
    i.landcover_epoch as epoch_label,
    s.tile_x,
    s.tile_y,
    st_rastfromwkb(s.rast) as rast
from inputs as i
cross join factor_arrays as f
cross join cover_kinds as k
cross join lateral raster.np_soil_tiles(
    i.dem_id, i.erosivity_id, i.erodibility_id, i.landcover_catalog_id,
    i.scales, i.offsets, f.codes, f.usle_c, f.usle_p,
    '{{ var("flow_direction") }}', {{ var('threshold_flow_accumulation') }},
    {{ var('l_max') }}, '{{ var("erosion_region") }}',
    {{ var('sdr_k_b') }}, {{ var('sdr_ic_0') }}, {{ var('sdr_max') }},
    i.fvc_id, i.fvc_scale, i.fvc_offset, k.codes, k.kinds) as s
where i.dem_id is not null and i.erosivity_id is not null and i.erodibility_id is not null
