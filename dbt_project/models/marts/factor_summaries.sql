{{ config(pre_hook="{{ delete_this_run() }}") }}
-- every identification factor of a run: where it comes from, its distribution, how it was
-- normalised and weighted
select
    {{ var('run_id') }}::bigint as run_id,
    w.factor_no,
    w.factor,
    w.factor_group,
    w.direction,
    f.description,
    f.source_layer,
    f.source,
    s.pixels,
    s.pixels * r.pixel_area_ha as area_ha,
    s.min_value,
    s.max_value,
    s.mean_value,
    f.clip_low_pct,
    f.clip_high_pct,
    s.p_low as normalise_low,
    s.p_high as normalise_high,
    s.entropy,
    w.weight_explicit,
    w.weight_ahp,
    w.weight_entropy,
    w.weight_mixed,
    w.weight,
    w.weight_method,
    w.weight_source,
    w.ahp_lambda_max,
    w.ahp_ci,
    w.ahp_cr,
    w.ahp_ri
from {{ ref('int_factor_weights') }} as w
join {{ ref('int_ident_factors') }} as f on f.factor = w.factor
join {{ ref('int_factor_stats') }} as s on s.factor = w.factor
cross join {{ ref('stg_registry__regions') }} as r
