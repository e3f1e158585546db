-- land-cover class of each survey plot, one row per plot, pool and observed land-cover epoch.
-- A plot's repeated measurements are its time series, not more plots:
--  * each measurement goes to the OBSERVED land-cover epoch nearest to its date (ties: the
--    earlier epoch); scenario maps (loaded with --scenario, etl.loads.options) never class a
--    plot;
--  * of a plot's measurements of one pool that share an epoch, the one nearest to the epoch
--    date is compared with that epoch's class (ties: the later measurement); the others stay
--    in registry.plot_measurements and are counted in epoch_measurements;
--  * the class is the epoch's pixel under the plot (null where the pixel has no data: the plot
--    stays in validation, unclassed);
--  * folds for cross-validation are dealt per class and pool over distinct plots (a plot keeps
--    its fold in every epoch), so that each fold of a class with >= 2 plots has plots outside it.
with m as (
    select * from {{ ref('stg_registry__plot_measurements') }}
),

r as (
    select * from {{ ref('stg_registry__regions') }}
),

observed as (
    select e.catalog_id, e.epoch_label, e.epoch_date
    from {{ ref('stg_raster__landcover_epochs') }} as e
    join {{ source('raster', 'catalog') }} as c on c.catalog_id = e.catalog_id
    join {{ source('etl', 'loads') }} as l on l.load_id = c.load_id
    where not coalesce((l.options ->> 'scenario')::boolean, false)
),

nearest as (
    select distinct on (m.measurement_id)
        m.*, e.catalog_id, e.epoch_label, e.epoch_date
    from m
    cross join observed as e
    order by m.measurement_id, abs(m.measured_date - e.epoch_date), e.epoch_date
),

per_epoch as (
    select distinct on (n.plot_uid, n.pool, n.catalog_id)
        n.*,
        count(*) over (partition by n.plot_uid, n.pool, n.catalog_id) as epoch_measurements
    from nearest as n
    order by n.plot_uid, n.pool, n.catalog_id, abs(n.measured_date - n.epoch_date),
             n.measured_date desc
),

located as (
    select n.*, st_transform(n.geom, r.srid) as pt, r.origin_x, r.origin_y,
           r.pixel_size_m * r.tile_size_px as tile_m
    from per_epoch as n
    cross join r
),

classed as (
    select
        l.measurement_id,
        l.plot_uid,
        l.plot_id,
        l.ecosystem_type,
        l.measured_date,
        l.pool,
        l.carbon_t_per_ha as measured_t_per_ha,
        l.epoch_label,
        l.epoch_measurements,
        st_value(t.rast, 1, l.pt)::int as class_code
    from located as l
    left join {{ source('raster', 'tiles') }} as t
        on t.catalog_id = l.catalog_id
       and t.tile_x = floor((st_x(l.pt) - l.origin_x) / l.tile_m)::int
       and t.tile_y = floor((l.origin_y - st_y(l.pt)) / l.tile_m)::int
)

select
    c.*,
    (dense_rank() over (partition by c.class_code, c.pool order by c.plot_uid) - 1)
        % {{ var('cv_folds') }} as fold
from classed as c
