{{ config(materialized='stable_view', alias='carbon_stocks_by_run',
          post_hook="{{ copy_column_comments('carbon_stocks') }}") }}
-- marts.carbon_stocks of every succeeded run (filter on run_id). QGIS and BI tools take a view's
-- first column as its key: row_key is the text of (run_id, zone_set, zone_code, epoch_label,
-- class_code, pool). Floats carry 10 significant digits (no binary noise such as
-- -216195.96899999995); each epoch label also comes as a year and a date.
{{ bi_keyed_view('carbon_stocks', "row(m.run_id, m.zone_set, m.zone_code, m.epoch_label, m.class_code, m.pool)::text", latest=false) }}
