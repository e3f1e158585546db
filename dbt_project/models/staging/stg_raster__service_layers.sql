-- inputs of the ecosystem-service and sensitivity models (docs/SERVICES.md), one row per
-- land-cover epoch and input layer: for every land-cover epoch of the run (scenario epochs
-- included, as in the carbon models), the entry of each input layer (dem, erosivity,
-- erodibility, precip, et0, aet, pawc, soil_depth, access, wind_factor, soil_*, snow_cover,
-- lithology, ndvi, fvc, threat_<name>, mask_<name>) that belongs to it: the entry of the same
-- epoch label, else the latest one dated on or before the land-cover epoch, else the earliest.
-- Only the catalog entries the run pinned at its start are read.
with cat as (
    select c.*
    from {{ source('raster', 'catalog') }} as c
    join {{ source('etl', 'assessment_runs') }} as a
        on a.run_id = {{ var('run_id') }} and c.catalog_id = any(a.input_catalog_ids)
    where c.region_id = {{ var('region_id') }}
),

lc as (
    select catalog_id, epoch_label, epoch_date from cat where layer = 'landcover'
),

inputs as (
    select * from cat
    where layer in ('dem', 'erosivity', 'erodibility', 'precip', 'et0', 'aet', 'pawc',
                    'soil_depth', 'access', 'wind_factor', 'soil_sand', 'soil_silt', 'soil_clay',
                    'soil_om', 'soil_caco3', 'snow_cover', 'lithology', 'ndvi', 'fvc')
       or layer like 'threat\_%' or layer like 'mask\_%'
),

ranked as (
    select lc.catalog_id as landcover_catalog_id,
           lc.epoch_label as landcover_epoch,
           i.layer, i.catalog_id, i.epoch_label, i.scale_factor, i.add_offset, i.units,
           row_number() over (
               partition by lc.catalog_id, i.layer
               order by (i.epoch_label = lc.epoch_label) desc,
                        (i.epoch_date <= lc.epoch_date) desc,
                        case when i.epoch_date <= lc.epoch_date then i.epoch_date end desc,
                        i.epoch_date, i.catalog_id desc) as k
    from lc cross join inputs as i
)

select landcover_catalog_id, landcover_epoch, layer, catalog_id, epoch_label, scale_factor,
       add_offset, units
from ranked where k = 1
