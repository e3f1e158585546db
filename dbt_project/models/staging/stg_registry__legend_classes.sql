-- classes of the legends the run's land-cover layers use (else the region's default legend),
-- with their IPCC land category and ecosystem type
with legends as (
    select distinct legend_id from {{ ref('stg_raster__landcover_epochs') }}
    where legend_id is not null
    union
    select legend_id from {{ ref('stg_registry__regions') }}
    where legend_id is not null
      and not exists (select 1 from {{ ref('stg_raster__landcover_epochs') }}
                      where legend_id is not null)
)

select distinct on (lc.class_code)
    lc.legend_id,
    lc.class_code,
    lc.name_en,
    lc.name_zh,
    lc.ipcc_category,
    lc.ecosystem_type
from {{ source('registry', 'legend_classes') }} as lc
join legends as l on l.legend_id = lc.legend_id
order by lc.class_code, lc.legend_id
