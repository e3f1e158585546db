-- land-cover class under each plot measurement, from the epoch nearest to the measurement
-- date; each plot gets a cross-validation fold
with m as (
    select * from {{ ref('stg_registry__plot_measurements') }}
),

r as (
    select * from {{ ref('stg_registry__regions') }}
),

nearest as (
    select distinct on (m.measurement_id)
        m.*, e.catalog_id, e.epoch_label
    from m
    cross join {{ ref('stg_raster__landcover_epochs') }} as e
    order by m.measurement_id, abs(m.measured_date - e.epoch_date), e.epoch_date
),

located as (
    select n.*, st_transform(n.geom, r.srid) as pt, r.origin_x, r.origin_y,
           r.pixel_size_m * r.tile_size_px as tile_m
    from nearest as n
    cross join r
)

select
    l.measurement_id,
    l.plot_uid,
    l.plot_id,
    l.ecosystem_type,
    l.measured_date,
    l.pool,
    l.carbon_t_per_ha as measured_t_per_ha,
    l.epoch_label,
    st_value(t.rast, 1, l.pt)::int as class_code,
    (dense_rank() over (order by l.plot_uid) - 1) % {{ var('cv_folds') }} as fold
from located as l
join {{ source('raster', 'tiles') }} as t
    on t.catalog_id = l.catalog_id
   and t.tile_x = floor((st_x(l.pt) - l.origin_x) / l.tile_m)::int
   and t.tile_y = floor((l.origin_y - st_y(l.pt)) / l.tile_m)::int
where st_value(t.rast, 1, l.pt) is not null
