{{ config(pre_hook="{{ delete_this_run() }}") }}
-- restoration benefit per run, project and monitoring period against matched controls
-- (int_matched_results, section 'period'; docs/CARBON.md, "Benefit against matched
-- controls"): biomass carbon (agb + bgb) following the vegetation signal within classes;
-- benefit = sum over matched project pixels of (own change - mean change of its controls) x
-- pixel area, with a bootstrap 95 % interval; the leakage belt's change is reported apart and
-- never enters the benefit
with r as (
    select project_version_id, data from {{ ref('int_matched_results') }} where section = 'period'
),

m as (
    select project_version_id, data from {{ ref('int_matched_results') }} where section = 'match'
),

sig as (
    select min(layer) as layer, min(units) as units from {{ ref('int_signal_epochs') }}
)

select
    {{ var('run_id') }}::bigint as run_id,
    p.project_version_id,
    p.project_id,
    p.project_name,
    p.is_example,
    (r.data ->> 'year_t1')::int as year_t1,
    (r.data ->> 'year_t2')::int as year_t2,
    r.data ->> 'timing' as timing,
    (r.data ->> 'project_pixels')::int as project_pixels,
    (r.data ->> 'matched_pixels')::int as matched_pixels,
    (r.data ->> 'project_change_t')::float8 as project_change_t,
    (r.data ->> 'matched_change_t')::float8 as matched_change_t,
    (r.data ->> 'baseline_change_t')::float8 as baseline_change_t,
    (r.data ->> 'benefit_t')::float8 as benefit_t,
    (r.data ->> 'benefit_p2_5_t')::float8 as benefit_p2_5_t,
    (r.data ->> 'benefit_p97_5_t')::float8 as benefit_p97_5_t,
    -ipcc.co2e((r.data ->> 'benefit_t')::float8) as benefit_co2e_t,
    (r.data ->> 'belt_pixels')::int as belt_pixels,
    (r.data ->> 'belt_change_t')::float8 as belt_change_t,
    (r.data ->> 'belt_excess_change_t')::float8 as belt_excess_change_t,
    (r.data ->> 'belt_class_changed_ha')::float8 as belt_class_changed_ha,
    (m.data ->> 'controls_used')::int as controls_used,
    coalesce(sig.layer, 'none') as signal_layer,
    sig.units as signal_units,
    '{{ var("density_method") }}'::text as density_method,
    -- text, not an array: dbt cannot add an array column to an existing mart
    (select string_agg(c, ', ' order by c::int)
     from jsonb_array_elements_text(m.data -> 'calibrated_classes') as c) as calibrated_classes,
    {{ var('leakage_belt_m') }}::float8 as leakage_belt_m,
    m.data ->> 'note' as note
from r
join m on m.project_version_id = r.project_version_id
join {{ ref('stg_registry__projects') }} as p on p.project_version_id = r.project_version_id
cross join sig
