-- survey plots against the vegetation signal: one row per plot measurement of above-ground
-- biomass carbon (agb, t C/ha) in a year the signal covers, with the signal at the plot's
-- pixel that year (epochs of one year reduced by ndvi_annual_reduce; scale and offset
-- applied) and the ecosystem type of the plot's land-cover class at its nearest observed
-- epoch (int_plot_classes, int_landcover_classes). The calibration of biomass on the signal
-- (int_signal_calibration) is fitted on these rows.
with plots as (
    select pc.measurement_id, pc.plot_uid, pc.class_code, pc.measured_t_per_ha,
           extract(year from pc.measured_date)::int as measured_year,
           st_transform(m.geom, r.srid) as pt, r.origin_x, r.origin_y,
           r.pixel_size_m * r.tile_size_px as tile_m
    from {{ ref('int_plot_classes') }} as pc
    join {{ ref('stg_registry__plot_measurements') }} as m
        on m.measurement_id = pc.measurement_id
    cross join {{ ref('stg_registry__regions') }} as r
    where pc.pool = 'agb' and pc.class_code is not null
),

signal_at_plot as (
    select p.measurement_id,
           {% if var('ndvi_annual_reduce') == 'max' %}max{% else %}avg{% endif %}(
               st_value(t.rast, 1, p.pt) * s.scale_factor + s.add_offset) as signal
    from plots as p
    join {{ ref('int_signal_epochs') }} as s on s.epoch_year = p.measured_year
    join {{ source('raster', 'tiles') }} as t
        on t.catalog_id = s.catalog_id
       and t.tile_x = floor((st_x(p.pt) - p.origin_x) / p.tile_m)::int
       and t.tile_y = floor((p.origin_y - st_y(p.pt)) / p.tile_m)::int
    group by p.measurement_id
)

select p.measurement_id, p.plot_uid, p.class_code, c.ecosystem_type, p.measured_year,
       p.measured_t_per_ha as agb_t_per_ha, v.signal
from plots as p
join signal_at_plot as v on v.measurement_id = p.measurement_id
join {{ ref('int_landcover_classes') }} as c on c.class_code = p.class_code
where v.signal is not null and c.ecosystem_type is not null
