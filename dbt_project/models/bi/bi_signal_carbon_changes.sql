{{ config(materialized='stable_view', alias='signal_carbon_changes',
          post_hook="{{ copy_column_comments('signal_carbon_changes') }}") }}
-- marts.signal_carbon_changes of the latest succeeded run of every region. QGIS and BI tools take
-- a view's first column as its key: row_key is the text of (run_id, zone_set, zone_code, year_t1).
-- Floats carry 10 significant digits (no binary noise such as -216195.96899999995); each epoch
-- label also comes as a year and a date.
{{ bi_keyed_view('signal_carbon_changes', "row(m.run_id, m.zone_set, m.zone_code, m.year_t1)::text") }}
