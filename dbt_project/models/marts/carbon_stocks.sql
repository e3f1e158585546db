{{ config(pre_hook="{{ delete_this_run() }}") }}
-- carbon stock per run, epoch, zone, class and pool: area (pixels x pixel area) x density
with counts as (
    select * from {{ ref('int_landcover_counts') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

zones as (
    select zone_id, zone_set, zone_code, zone_name from {{ ref('stg_registry__zones') }}
),

epochs as (
    select epoch_label, epoch_year from {{ ref('stg_raster__landcover_epochs') }}
),

densities as (
    select * from {{ ref('int_carbon_densities') }}
)

select
    {{ var('run_id') }}::bigint as run_id,
    r.region_id,
    r.region_name,
    c.zone_set,
    coalesce(z.zone_code, r.region_name) as zone_code,
    coalesce(z.zone_name, r.region_name) as zone_name,
    c.epoch_label,
    e.epoch_year,
    c.class_code,
    d.pool,
    c.pixels,
    c.pixels * r.pixel_area_ha as area_ha,
    d.carbon_t_per_ha,
    c.pixels * r.pixel_area_ha * d.carbon_t_per_ha as carbon_t,
    d.uncertainty_pct,
    d.tier,
    d.parameter_set_id,
    d.source as parameter_source,
    '{{ var("ipcc_edition") }}'::text as ipcc_edition
from counts as c
cross join region as r
join epochs as e on e.epoch_label = c.epoch_label
left join zones as z on z.zone_id = c.zone_id and z.zone_set = c.zone_set
join densities as d on d.class_code = c.class_code
