{{ config(pre_hook="{{ delete_this_run() }}") }}
-- biomass carbon (agb + bgb) per run, zone, signal year and class, following the vegetation
-- signal within classes (int_signal_stocks; docs/CARBON.md, "Benefit against matched
-- controls"), beside the class-constant biomass of carbon_stocks' densities: the difference is
-- what the vegetation signal adds within classes
with s as (
    select * from {{ ref('int_signal_stocks') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

zones as (
    select zone_id, zone_set, zone_code, zone_name from {{ ref('stg_registry__zones') }}
),

sig as (
    select min(layer) as layer, min(units) as units from {{ ref('int_signal_epochs') }}
)

select
    {{ var('run_id') }}::bigint as run_id,
    r.region_id,
    s.zone_set,
    coalesce(z.zone_code, r.region_name) as zone_code,
    coalesce(z.zone_name, r.region_name) as zone_name,
    s.year,
    s.class_code,
    s.pixels,
    s.pixels * r.pixel_area_ha as area_ha,
    s.signal_sum / nullif(s.signal_pixels, 0) as mean_signal,
    sig.layer as signal_layer,
    s.biomass_px_t_per_ha * r.pixel_area_ha as biomass_t,
    s.class_px_t_per_ha * r.pixel_area_ha as class_constant_biomass_t,
    (s.biomass_px_t_per_ha - s.class_px_t_per_ha) * r.pixel_area_ha as within_class_t,
    '{{ var("density_method") }}'::text as density_method
from s
cross join region as r
cross join sig
left join zones as z on z.zone_id = s.zone_id and z.zone_set = s.zone_set
{% if var('density_method') != 'signal' %}where false{% endif %}
