{{ config(pre_hook="{{ delete_this_run() }}") }}
-- balance of the matched controls per run, project and covariate (int_matched_results,
-- section 'balance'): means and standardised mean differences (difference of means / pooled
-- standard deviation) before matching (every candidate control of the project's start
-- classes) and after (each project pixel's controls, weighted 1/k); |SMD| < 0.1 is the usual
-- mark of good balance
select
    {{ var('run_id') }}::bigint as run_id,
    p.project_version_id,
    p.project_id,
    r.data ->> 'covariate' as covariate,
    (r.data ->> 'mean_project')::float8 as mean_project,
    (r.data ->> 'mean_controls_before')::float8 as mean_controls_before,
    (r.data ->> 'mean_controls_after')::float8 as mean_controls_after,
    (r.data ->> 'smd_before')::float8 as smd_before,
    (r.data ->> 'smd_after')::float8 as smd_after
from {{ ref('int_matched_results') }} as r
join {{ ref('stg_registry__projects') }} as p on p.project_version_id = r.project_version_id
where r.section = 'balance'
