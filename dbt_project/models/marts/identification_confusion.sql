{{ config(pre_hook="{{ delete_this_run() }}") }}
-- confusion matrix of a run's priority grades against reference samples (rows: map grade,
-- columns: reference grade)
select
    {{ var('run_id') }}::bigint as run_id,
    map_grade,
    reference_grade,
    count(*) as samples
from {{ ref('int_accuracy_samples') }}
group by map_grade, reference_grade
