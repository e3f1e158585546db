-- the region of this run, with its pixel area
select
    r.region_id,
    r.name as region_name,
    r.srid,
    r.pixel_size_m,
    r.pixel_size_m * r.pixel_size_m / 10000.0 as pixel_area_ha,
    r.origin_x,
    r.origin_y,
    r.tile_size_px,
    r.legend_id,
    r.boundary,
    r.ipcc_climate_zone,
    r.ipcc_soil_type
from {{ source('registry', 'regions') }} as r
where r.region_id = {{ var('region_id') }}
