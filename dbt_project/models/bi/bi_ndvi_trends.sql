{{ config(materialized='stable_view', alias='ndvi_trends',
          post_hook="{{ copy_column_comments('ndvi_trends') }}") }}
-- marts.ndvi_trends of the latest succeeded run of every region. QGIS and BI tools take a view's
-- first column as its key: row_key is the text of (run_id, zone_set, zone_code, trend_class).
-- Floats carry 10 significant digits (no binary noise such as -216195.96899999995); each epoch
-- label also comes as a year and a date.
{{ bi_keyed_view('ndvi_trends', "row(m.run_id, m.zone_set, m.zone_code, m.trend_class)::text") }}
