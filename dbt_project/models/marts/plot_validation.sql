{{ config(pre_hook="{{ delete_this_run() }}") }}
-- modelled vs measured density at every plot; where plots also calibrated the density
-- (Tier 2), the modelled value is cross-validated: the mean of the class's plots in the other
-- folds, so that no plot validates itself
with pc as (
    select * from {{ ref('int_plot_classes') }}
),

dens as (
    select * from {{ ref('int_carbon_densities') }}
),

cv as (
    select a.measurement_id, avg(b.measured_t_per_ha) as cv_t_per_ha, count(b.*) as cv_plots
    from pc as a
    join pc as b
        on b.class_code = a.class_code and b.pool = a.pool and b.fold <> a.fold
    group by a.measurement_id
),

modelled as (
    select pc.*, d.tier,
           case when d.tier = 'plots' then cv.cv_t_per_ha else d.carbon_t_per_ha end
               as modelled_t_per_ha
    from pc
    join dens as d on d.class_code = pc.class_code and d.pool = pc.pool
    left join cv on cv.measurement_id = pc.measurement_id
)

select
    {{ var('run_id') }}::bigint as run_id,
    measurement_id,
    plot_id,
    ecosystem_type,
    measured_date,
    pool,
    class_code,
    epoch_label,
    tier,
    tier = 'plots' as is_cross_validated,
    fold,
    measured_t_per_ha,
    modelled_t_per_ha,
    100.0 * (modelled_t_per_ha - measured_t_per_ha) / nullif(measured_t_per_ha, 0)
        as deviation_pct,
    abs(modelled_t_per_ha - measured_t_per_ha) <= 0.1 * measured_t_per_ha as is_within_10pct
from modelled
where modelled_t_per_ha is not null
