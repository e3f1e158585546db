-- current land-cover layers of the run's region, one row per epoch, in time order
select
    c.catalog_id,
    c.region_id,
    c.epoch_label,
    c.epoch_date,
    extract(year from c.epoch_date)::int as epoch_year,
    c.legend_id,
    row_number() over (order by c.epoch_date) as epoch_no
from {{ source('raster', 'catalog') }} as c
where c.region_id = {{ var('region_id') }}
  and c.layer = 'landcover'
  and c.is_current
