{{ config(materialized='stable_view') }}
-- succeeded assessment runs with their region; is_latest marks each region's latest one
select
    a.run_id,
    a.region_id,
    g.name as region_name,
    a.started_at,
    a.finished_at,
    a.ipcc_edition,
    a.run_id = max(a.run_id) over (partition by a.region_id) as is_latest
from {{ source('etl', 'assessment_runs') }} as a
join {{ source('registry', 'regions') }} as g on g.region_id = a.region_id
where a.status = 'succeeded'
