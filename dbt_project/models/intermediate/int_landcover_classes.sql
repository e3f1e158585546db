-- land-cover classes present in the run's land-cover layers (any epoch, nodata excluded), with
-- their legend attributes and the IPCC Tier 1 land type whose defaults they take
-- (int_ipcc_default_densities). A quick pass over the tiles, built before the per-pixel models
-- so that a class without a carbon density fails the run at its start (int_density_gaps): the
-- kernel raster.np_value_counts counts the valid pixels per class of every tile of every epoch,
-- in PostgreSQL's parallel workers. It is called in the select list of a subquery over the
-- tiles (a set-returning function there is costed per tile; in a lateral join the planner
-- counts its cost once and finds workers not worth starting), and the epochs enter as a scalar
-- subquery (evaluated once, before the workers start).
--   tier1_stratum: from the crosswalk seed (landcover_ipcc_crosswalk) for the built-in and
--   standard legends (clcd, hj1166_l2, gbt21010_l1), else from the class's IPCC category:
--   forest_land -> forest, grassland -> grassland, cropland -> cropland_<cropland_kind>,
--   wetlands -> water (IPCC gives no Tier 1 stock for wetlands; a built-in legend tells marsh
--   from open water), settlements -> settlement, other_land -> bare; null without a category
with e as (
    {{ landcover_epoch_ids(observed=false) }}
),

present as (
    select distinct (c.counts).value as class_code
    from (
        select raster.np_value_counts(t.rast::bytea) as counts
        from {{ source('raster', 'tiles') }} as t
        where t.catalog_id = any((select ids from e)::bigint[])
    ) as c
),

legend as (
    select l.legend_id, l.class_code, l.name_en, l.name_zh, l.ipcc_category, l.ecosystem_type,
           lc.cropland_kind, lg.name as legend_name
    from {{ ref('stg_registry__legend_classes') }} as l
    join {{ source('registry', 'legend_classes') }} as lc
        on lc.legend_id = l.legend_id and lc.class_code = l.class_code
    -- registry.legends is not a declared source: its name picks the crosswalk rows
    join registry.legends as lg on lg.legend_id = l.legend_id
),

resolved as (
    select
        p.class_code,
        l.legend_id,
        l.legend_name,
        l.name_en,
        l.name_zh,
        l.ipcc_category,
        l.ecosystem_type,
        l.cropland_kind,
        cw.tier1_stratum as crosswalk_stratum,
        coalesce(cw.tier1_stratum,
                 case l.ipcc_category
                     when 'forest_land' then 'forest'
                     when 'grassland' then 'grassland'
                     when 'cropland' then 'cropland'
                     when 'wetlands' then 'water'
                     when 'settlements' then 'settlement'
                     when 'other_land' then 'bare' end) as land_type,
        coalesce(cw.forest_type, 'mixed_or_unknown') as forest_type
    from present as p
    left join legend as l on l.class_code = p.class_code
    left join {{ ref('landcover_ipcc_crosswalk') }} as cw
        on cw.legend = l.legend_name and cw.class_code = p.class_code
)

select
    class_code,
    legend_id,
    legend_name,
    name_en,
    name_zh,
    ipcc_category,
    ecosystem_type,
    cropland_kind,
    case when land_type = 'cropland' then 'cropland_' || coalesce(cropland_kind, 'annual')
         else land_type end as tier1_stratum,
    forest_type,
    -- how the Tier 1 land type was chosen, where it is an assumption (carried to the source)
    case when land_type is null then null
         when land_type = 'cropland' and cropland_kind is null
             then 'cropland kind not given in the legend: annual assumed'
         when crosswalk_stratum is not null then null
         when land_type = 'water'
             then 'IPCC category wetlands without a built-in legend class: open water assumed'
         when land_type = 'forest'
             then 'forest type not given: mixed or unknown'
    end as assumption
from resolved
