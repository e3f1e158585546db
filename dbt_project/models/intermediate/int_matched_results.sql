-- matching, benefits, balance, leakage and sink-rate figures of every current project
-- (benefit.np_matched_benefits over int_benefit_pixels; one row per project and section:
-- match, balance, period, sink). The marts project_matched_benefits, project_match_balance,
-- project_sink_rate_change and project_cost_effectiveness read them.
with px as (
    select * from {{ ref('int_benefit_pixels') }}
),

lc as (
    select array_agg(epoch_year order by epoch_no) as years
    from ({{ observed_landcover_epochs() }}) as e
),

sig as (
    select array_agg(distinct epoch_year order by epoch_year) as years,
           bool_or(is_flux) as is_flux
    from {{ ref('int_signal_epochs') }}
),

dens as (
    select * from {{ ref('int_class_biomass') }}
),

proj as (
    select array_agg(project_version_id order by project_version_id) as ids,
           array_agg(extract(year from start_date)::int order by project_version_id) as starts
    from {{ ref('stg_registry__projects') }}
),

arrays as (
    -- the pixels in grid order (row, column): the matching's ties and the bootstrap's draws
    -- depend on the order, which must not depend on how (or where) the tiles were read
    select array_agg(zone_id order by grid_row, grid_col) as zones,
           array_agg(in_sample order by grid_row, grid_col) as in_sample,
           array_agg(classes order by grid_row, grid_col) as classes,
           array_agg(signal order by grid_row, grid_col)
               filter (where cardinality(signal) > 0) as signal,
           array_agg(elevation order by grid_row, grid_col) as elevation,
           array_agg(slope_deg order by grid_row, grid_col) as slope
    from px
)

select r.project_version_id, r.section, r.data
from arrays as a
cross join lc
cross join sig
cross join dens
cross join proj
cross join {{ ref('stg_registry__regions') }} as reg
cross join lateral benefit.np_matched_benefits(
    a.zones, a.in_sample, a.classes, a.signal, a.elevation, a.slope, lc.years, sig.years,
    dens.codes, dens.agb, dens.bgb, dens.cal_intercept, dens.cal_slope, dens.reference_signal,
    proj.ids, proj.starts, reg.pixel_area_ha,
    jsonb_build_object(
        'k', {{ var('match_k') }},
        'caliper_sd', {{ var('match_caliper_sd') }},
        'match_pre_years', {{ var('match_pre_years') }},
        'sink_baseline_years', {{ var('sink_baseline_years') }},
        'sink_post_years', {{ var('sink_post_years') }},
        'threshold_pct', {{ var('sink_rate_threshold_pct') }},
        'bootstrap_draws', {{ var('bootstrap_draws') }},
        'seed', {{ var('mc_seed') }},
        'density_method', '{{ var("density_method") }}',
        -- kg C/m2/yr -> t C/ha/yr for flux signals (gpp, npp)
        'flux_to_t_per_ha', case when sig.is_flux then 10 end)) as r
where a.zones is not null
