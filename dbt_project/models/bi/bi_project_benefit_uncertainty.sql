{{ config(materialized='stable_view', alias='project_benefit_uncertainty',
          post_hook="{{ copy_column_comments('project_benefit_uncertainty') }}") }}
-- marts.project_benefit_uncertainty of the latest succeeded run of every region. QGIS and BI tools
-- take a view's first column as its key: row_key is the text of (run_id, project_version_id,
-- epoch_t1, epoch_t2, pool). Floats carry 10 significant digits (no binary noise such as
-- -216195.96899999995); each epoch label also comes as a year and a date.
{{ bi_keyed_view('project_benefit_uncertainty', "row(m.run_id, m.project_version_id, m.epoch_t1, m.epoch_t2, m.pool)::text") }}
