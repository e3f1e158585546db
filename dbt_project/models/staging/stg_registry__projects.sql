-- current version of every restoration project of the region
select
    p.project_version_id,
    p.project_id,
    p.version,
    p.name as project_name,
    p.project_type,
    p.start_date,
    p.end_date,
    p.is_example,
    p.area_ha as polygon_area_ha,
    p.investment_cny
from {{ source('registry', 'projects') }} as p
where p.region_id = {{ var('region_id') }}
  and p.valid_to is null
