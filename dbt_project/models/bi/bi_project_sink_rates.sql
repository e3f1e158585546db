{{ config(materialized='stable_view', alias='project_sink_rates',
          post_hook="{{ copy_column_comments('project_sink_rates') }}") }}
-- marts.project_sink_rates of the latest succeeded run of every region. QGIS and BI tools take a
-- view's first column as its key: row_key is the text of (run_id, project_version_id). Floats
-- carry 10 significant digits (no binary noise such as -216195.96899999995); each epoch label also
-- comes as a year and a date.
{{ bi_keyed_view('project_sink_rates', "row(m.run_id, m.project_version_id)::text") }}
