{{ config(pre_hook="{{ delete_this_run() }}") }}
-- the standard's sink-rate figure per run and project (int_matched_results, section 'sink'):
-- the mean annual sink rate over the sink_post_years years after the start year against the
-- sink_baseline_years years before it (change_vs_pre_pct) and against the matched controls in
-- the same years (change_vs_controls_pct), bootstrap 95 % intervals, pass / fail against
-- sink_rate_threshold_pct (default 25 %). The start year straddles the start and is reported
-- apart (rate_start_year_t_per_yr), never dropped. Sink rate: the yearly stock change of
-- biomass following the signal, or for flux signals (gpp, npp) the flux itself
select
    {{ var('run_id') }}::bigint as run_id,
    p.project_version_id,
    p.project_id,
    p.project_name,
    p.is_example,
    (r.data ->> 'start_year')::int as start_year,
    array(select jsonb_array_elements_text(r.data -> 'pre_years')::int) as pre_years,
    array(select jsonb_array_elements_text(r.data -> 'post_years')::int) as post_years,
    r.data ->> 'kind' as rate_kind,
    (r.data ->> 'rate_pre_t_per_yr')::float8 as rate_pre_t_per_yr,
    (r.data ->> 'rate_post_t_per_yr')::float8 as rate_post_t_per_yr,
    (r.data ->> 'rate_start_year_t_per_yr')::float8 as rate_start_year_t_per_yr,
    (r.data ->> 'change_vs_pre_pct')::float8 as change_vs_pre_pct,
    (r.data ->> 'change_vs_pre_p2_5_pct')::float8 as change_vs_pre_p2_5_pct,
    (r.data ->> 'change_vs_pre_p97_5_pct')::float8 as change_vs_pre_p97_5_pct,
    (r.data ->> 'rate_post_matched_t_per_yr')::float8 as rate_post_matched_t_per_yr,
    (r.data ->> 'rate_post_controls_t_per_yr')::float8 as rate_post_controls_t_per_yr,
    (r.data ->> 'change_vs_controls_pct')::float8 as change_vs_controls_pct,
    (r.data ->> 'change_vs_controls_p2_5_pct')::float8 as change_vs_controls_p2_5_pct,
    (r.data ->> 'change_vs_controls_p97_5_pct')::float8 as change_vs_controls_p97_5_pct,
    (r.data ->> 'threshold_pct')::float8 as threshold_pct,
    (r.data ->> 'passes_vs_pre')::boolean as passes_vs_pre,
    (r.data ->> 'passes_vs_controls')::boolean as passes_vs_controls,
    r.data ->> 'note' as note
from {{ ref('int_matched_results') }} as r
join {{ ref('stg_registry__projects') }} as p on p.project_version_id = r.project_version_id
where r.section = 'sink'
