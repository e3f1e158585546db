-- above-ground biomass carbon against the vegetation signal per ecosystem type, from survey
-- plots (int_signal_observations): ordinary least squares agb = intercept + slope x signal
-- over the plots' measurements, for ecosystem types with at least greatest(min_plots, 3)
-- distinct plots; leave-one-plot-out cross-validation (the fit without the plot's own
-- measurements predicts them): share within +-10 % of the measured value and mean relative
-- error. Prediction standard error at signal s: rmse x sqrt(1 + 1/n + (s - mean_signal)^2 /
-- signal_ss). Used by the benefit against matched controls in place of the anchored rule.
with obs as (
    select * from {{ ref('int_signal_observations') }}
),

tot as (
    select ecosystem_type, count(*)::float8 as n, count(distinct plot_uid) as plots,
           sum(signal) as sx, sum(agb_t_per_ha) as sy, sum(signal * signal) as sxx,
           sum(signal * agb_t_per_ha) as sxy,
           regr_intercept(agb_t_per_ha, signal) as intercept,
           regr_slope(agb_t_per_ha, signal) as slope,
           regr_r2(agb_t_per_ha, signal) as r2,
           avg(signal) as mean_signal,
           regr_sxx(agb_t_per_ha, signal) as signal_ss
    from obs
    group by ecosystem_type
    having count(distinct plot_uid) >= greatest({{ var('min_plots') }}, 3)
       and regr_sxx(agb_t_per_ha, signal) > 0
),

per_plot as (
    select ecosystem_type, plot_uid, count(*)::float8 as n, sum(signal) as sx,
           sum(agb_t_per_ha) as sy, sum(signal * signal) as sxx,
           sum(signal * agb_t_per_ha) as sxy
    from obs
    group by 1, 2
),

loo as (
    -- the fit without one plot's measurements
    select p.ecosystem_type, p.plot_uid, t.n - p.n as n, t.sx - p.sx as sx, t.sy - p.sy as sy,
           t.sxx - p.sxx as sxx, t.sxy - p.sxy as sxy
    from per_plot as p
    join tot as t on t.ecosystem_type = p.ecosystem_type
),

loo_fit as (
    select ecosystem_type, plot_uid,
           (n * sxy - sx * sy) / nullif(n * sxx - sx * sx, 0) as slope, sx, sy, n
    from loo
),

cv as (
    select o.ecosystem_type, o.agb_t_per_ha,
           (f.sy - f.slope * f.sx) / f.n + f.slope * o.signal as predicted
    from obs as o
    join loo_fit as f on f.ecosystem_type = o.ecosystem_type and f.plot_uid = o.plot_uid
),

resid as (
    select o.ecosystem_type,
           sqrt(sum((o.agb_t_per_ha - (t.intercept + t.slope * o.signal)) ^ 2)
                / nullif(count(*) - 2, 0)) as rmse
    from obs as o
    join tot as t on t.ecosystem_type = o.ecosystem_type
    group by o.ecosystem_type
),

cv_stats as (
    select ecosystem_type,
           100.0 * avg(case when abs(predicted - agb_t_per_ha) <= 0.1 * abs(agb_t_per_ha)
                            then 1 else 0 end) as cv_within_10pct_share_pct,
           100.0 * avg(abs(predicted - agb_t_per_ha) / nullif(abs(agb_t_per_ha), 0))
               as cv_mre_pct,
           count(predicted) as cv_predictions
    from cv
    group by ecosystem_type
)

select t.ecosystem_type, t.plots, t.n::int as observations, t.intercept, t.slope, t.r2,
       r.rmse as rmse_t_per_ha, t.mean_signal, t.signal_ss, c.cv_within_10pct_share_pct,
       c.cv_mre_pct, c.cv_predictions
from tot as t
join resid as r on r.ecosystem_type = t.ecosystem_type
left join cv_stats as c on c.ecosystem_type = t.ecosystem_type
