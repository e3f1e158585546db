{{ config(pre_hook="{{ delete_this_run() }}") }}
-- calibration of above-ground biomass carbon on the vegetation signal per run and ecosystem
-- type (int_signal_calibration): agb = intercept + slope x signal over survey plots, with its
-- fit, prediction error and leave-one-plot-out cross-validation (share within +-10 %, MRE).
-- The benefit against matched controls uses it for the classes of these ecosystem types.
with sig as (
    select min(layer) as layer, min(units) as units from {{ ref('int_signal_epochs') }}
)

select
    {{ var('run_id') }}::bigint as run_id,
    c.ecosystem_type,
    sig.layer as signal_layer,
    sig.units as signal_units,
    c.plots,
    c.observations,
    c.intercept as intercept_t_per_ha,
    c.slope as slope_t_per_ha_per_unit,
    c.r2,
    c.rmse_t_per_ha,
    c.mean_signal,
    c.signal_ss,
    c.cv_predictions,
    c.cv_within_10pct_share_pct,
    c.cv_mre_pct
from {{ ref('int_signal_calibration') }} as c
cross join sig
