{{ config(pre_hook="{{ delete_this_run() }}",
          post_hook="{{ ensure_primary_key(['service_row_id']) }}") }}
-- ecosystem services per zone (every zone set and the whole region) and land-cover epoch
-- (docs/SERVICES.md): soil loss and retention (RUSLE), water yield (Budyko-Zhang) and water
-- conservation (HJ 1173 balance), wind erosion and sand fixation (RWEQ), habitat quality. A
-- service that was not computed (inputs missing) is NULL. Sums are pixel sums x pixel area;
-- water_yield_m3_by_area is the mean depth x the zone polygon's area (the way InVEST reports
-- a watershed's volume).
with tiles as (
    select 'soil' as source, epoch_label, tile_x, tile_y, rast from {{ ref('int_soil_tiles') }}
    union all
    select 'water', epoch_label, tile_x, tile_y, rast from {{ ref('int_water_tiles') }}
    union all
    select 'wind', epoch_label, tile_x, tile_y, rast from {{ ref('int_wind_tiles') }}
    union all
    select 'habitat', epoch_label, tile_x, tile_y, rast from {{ ref('int_habitat_tiles') }}
),

sums as (
    select t.source, t.epoch_label, 'region' as zone_set, 0 as zone_id, z.band,
           sum(z.pixels) as pixels, sum(z.total) as total
    from tiles as t cross join lateral raster.np_zonal(null, t.rast::bytea) as z
    group by t.source, t.epoch_label, z.band
    union all
    select t.source, t.epoch_label, zt.zone_set, z.zone_id, z.band, sum(z.pixels),
           sum(z.total)
    from {{ ref('int_ident_zone_tiles') }} as zt
    join tiles as t on t.tile_x = zt.tile_x and t.tile_y = zt.tile_y
    cross join lateral raster.np_zonal(zt.rast::bytea, t.rast::bytea) as z
    where z.zone_id <> 0
    group by t.source, t.epoch_label, zt.zone_set, z.zone_id, z.band
),

pivot as (
    select epoch_label, zone_set, zone_id,
        {%- for src, band, name in [('soil', 1, 'soil_loss_potential'), ('soil', 2, 'soil_loss'),
                                    ('soil', 3, 'soil_retention'), ('water', 1, 'water_yield'),
                                    ('water', 2, 'aet'), ('water', 3, 'water_conservation'),
                                    ('wind', 1, 'wind_loss_potential'), ('wind', 2, 'wind_loss'),
                                    ('wind', 3, 'sand_fixation'), ('habitat', 1, 'habitat_quality'),
                                    ('habitat', 2, 'habitat_degradation')] %}
        max(total) filter (where source = '{{ src }}' and band = {{ band }}) as {{ name }}_total,
        max(pixels) filter (where source = '{{ src }}' and band = {{ band }}) as {{ name }}_px,
        {%- endfor %}
        max(pixels) as pixels
    from sums
    group by epoch_label, zone_set, zone_id
),

epochs as (
    select epoch_label, min(extract(year from epoch_date))::int as epoch_year
    from {{ source('raster', 'catalog') }}
    where region_id = {{ var('region_id') }} and layer = 'landcover'
    group by epoch_label
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

zones as (
    select zone_id, zone_set, zone_code, zone_name, geom
    from {{ ref('stg_registry__zones') }}
),

rows as (
    select
        p.zone_set,
        coalesce(z.zone_code, r.region_name) as zone_code,
        coalesce(z.zone_name, r.region_name) as zone_name,
        p.epoch_label,
        e.epoch_year,
        p.pixels * r.pixel_area_ha as assessed_ha,
        st_area(st_transform(coalesce(z.geom, r.boundary), r.srid)) / 10000.0 as zone_area_ha,
        p.soil_loss_potential_total * r.pixel_area_ha as soil_loss_potential_t_per_yr,
        p.soil_loss_total * r.pixel_area_ha as soil_loss_t_per_yr,
        p.soil_retention_total * r.pixel_area_ha as soil_retention_t_per_yr,
        p.soil_loss_total / nullif(p.soil_loss_px, 0) as soil_loss_t_per_ha_yr,
        p.soil_retention_total / nullif(p.soil_retention_px, 0) as soil_retention_t_per_ha_yr,
        p.water_yield_total / nullif(p.water_yield_px, 0) as water_yield_mm,
        p.water_yield_total * r.pixel_area_ha * 10.0 as water_yield_m3,
        p.aet_total / nullif(p.aet_px, 0) as aet_mm,
        p.water_conservation_total / nullif(p.water_conservation_px, 0)
            as water_conservation_mm,
        p.water_conservation_total * r.pixel_area_ha * 10.0 as water_conservation_m3,
        p.wind_loss_potential_total * r.pixel_area_ha as wind_loss_potential_t_per_yr,
        p.wind_loss_total * r.pixel_area_ha as wind_loss_t_per_yr,
        p.sand_fixation_total * r.pixel_area_ha as sand_fixation_t_per_yr,
        p.habitat_quality_total / nullif(p.habitat_quality_px, 0) as habitat_quality_mean,
        p.habitat_degradation_total / nullif(p.habitat_degradation_px, 0)
            as habitat_degradation_mean,
        p.soil_loss_px * r.pixel_area_ha as soil_computed_ha,
        p.water_yield_px * r.pixel_area_ha as water_computed_ha,
        p.sand_fixation_px * r.pixel_area_ha as wind_computed_ha,
        p.habitat_quality_px * r.pixel_area_ha as habitat_computed_ha,
        st_multi(coalesce(z.geom, r.boundary))::geometry(MultiPolygon, 4326) as geom
    from pivot as p
    cross join region as r
    left join zones as z on z.zone_id = p.zone_id and z.zone_set = p.zone_set
    left join epochs as e on e.epoch_label = p.epoch_label
    where p.pixels > 0
)

select
    {{ var('run_id') }}::bigint * 1000000
        + row_number() over (order by zone_set, zone_code, epoch_label) as service_row_id,
    {{ var('run_id') }}::bigint as run_id,
    rows.zone_set,
    rows.zone_code,
    rows.zone_name,
    rows.epoch_label,
    rows.epoch_year,
    rows.assessed_ha,
    rows.zone_area_ha,
    100.0 * rows.assessed_ha / nullif(rows.zone_area_ha, 0) as zone_coverage_pct,
    rows.soil_loss_potential_t_per_yr,
    rows.soil_loss_t_per_yr,
    rows.soil_retention_t_per_yr,
    rows.soil_loss_t_per_ha_yr,
    rows.soil_retention_t_per_ha_yr,
    rows.water_yield_mm,
    rows.water_yield_m3,
    rows.water_yield_mm * rows.zone_area_ha * 10.0 as water_yield_m3_by_area,
    rows.aet_mm,
    rows.water_conservation_mm,
    rows.water_conservation_m3,
    rows.wind_loss_potential_t_per_yr,
    rows.wind_loss_t_per_yr,
    rows.sand_fixation_t_per_yr,
    rows.habitat_quality_mean,
    rows.habitat_degradation_mean,
    rows.soil_computed_ha,
    rows.water_computed_ha,
    rows.wind_computed_ha,
    rows.habitat_computed_ha,
    rows.geom
from rows
