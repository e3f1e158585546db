-- a table, not a view: the per-tile models read it inside their lateral gathers, and a view
-- with a window function there would keep their kernels out of PostgreSQL's parallel workers
{{ config(materialized='table') }}
-- the land-cover layers the run pinned at its start (etl.assessment_runs.input_catalog_ids),
-- one row per epoch, in time order: a layer replaced while the run computes is not read
select
    c.catalog_id,
    c.region_id,
    c.epoch_label,
    c.epoch_date,
    extract(year from c.epoch_date)::int as epoch_year,
    c.legend_id,
    row_number() over (order by c.epoch_date) as epoch_no
from {{ source('raster', 'catalog') }} as c
join {{ source('etl', 'assessment_runs') }} as a
    on a.run_id = {{ var('run_id') }} and c.catalog_id = any(a.input_catalog_ids)
where c.region_id = {{ var('region_id') }}
  and c.layer = 'landcover'
