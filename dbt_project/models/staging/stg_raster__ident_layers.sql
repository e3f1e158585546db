-- a table, not a view: the per-tile models read it inside their lateral gathers, and a view
-- with a window function there would keep their kernels out of PostgreSQL's parallel workers
{{ config(materialized='table') }}
-- raster layers the identification uses, one row per catalog entry and role:
--   ndvi           every observed NDVI epoch (trend, FVC)
--   landcover_t1   the first observed land-cover epoch, landcover_t2 the last (transitions)
--   landcover_now  the last observed land-cover epoch (carbon density, steep cropland)
--   dem            the latest DEM
--   layer          the latest epoch of any other layer (extra factors named by source_layer)
-- Epochs dated after the run (scenarios such as the InVEST 2050 land cover) are not
-- observations and are left out. Only the catalog entries the run pinned at its start
-- (etl.assessment_runs.input_catalog_ids) are read: a layer replaced meanwhile is not.
with cat as (
    select c.*, extract(year from c.epoch_date)::int as epoch_year
    from {{ source('raster', 'catalog') }} as c
    join {{ source('etl', 'assessment_runs') }} as a
        on a.run_id = {{ var('run_id') }} and c.catalog_id = any(a.input_catalog_ids)
    where c.region_id = {{ var('region_id') }}
      and c.epoch_date <= current_date
),

lc as (
    select cat.*,
           row_number() over (order by epoch_date) as first_no,
           row_number() over (order by epoch_date desc) as last_no
    from cat where layer = 'landcover'
),

latest as (
    select cat.*, row_number() over (partition by layer order by epoch_date desc) as k
    from cat
)

select 'ndvi' as role, catalog_id, layer, epoch_label, epoch_year, scale_factor, add_offset,
       tile_count
from cat where layer = 'ndvi'
union all
select 'landcover_t1', catalog_id, layer, epoch_label, epoch_year, scale_factor, add_offset,
       tile_count
from lc where first_no = 1 and last_no > 1
union all
select 'landcover_t2', catalog_id, layer, epoch_label, epoch_year, scale_factor, add_offset,
       tile_count
from lc where last_no = 1 and first_no > 1
union all
select 'landcover_now', catalog_id, layer, epoch_label, epoch_year, scale_factor, add_offset,
       tile_count
from lc where last_no = 1
union all
select case when layer = 'dem' then 'dem' else 'layer' end, catalog_id, layer, epoch_label,
       epoch_year, scale_factor, add_offset, tile_count
from latest where k = 1 and layer not in ('ndvi', 'landcover')
