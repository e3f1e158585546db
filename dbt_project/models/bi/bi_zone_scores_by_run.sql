{{ config(materialized='stable_view', alias='zone_scores_by_run',
          post_hook="{{ copy_column_comments('zone_scores') }}") }}
-- marts.zone_scores of every succeeded run (filter on run_id). QGIS and BI tools take a view's
-- first column as its key: row_key is zone_score_id (bigint, unique over every run). Floats carry
-- 10 significant digits (no binary noise such as -216195.96899999995); each epoch label also comes
-- as a year and a date.
{{ bi_keyed_view('zone_scores', "m.zone_score_id", latest=false) }}
