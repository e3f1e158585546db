select
    z.zone_id,
    z.region_id,
    z.zone_set,
    z.zone_code,
    z.name as zone_name,
    z.area_ha,
    z.geom
from {{ source('registry', 'zones') }} as z
where z.region_id = {{ var('region_id') }}
