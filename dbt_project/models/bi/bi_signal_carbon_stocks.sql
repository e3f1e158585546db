{{ config(materialized='stable_view', alias='signal_carbon_stocks',
          post_hook="{{ copy_column_comments('signal_carbon_stocks') }}") }}
-- marts.signal_carbon_stocks of the latest succeeded run of every region. QGIS and BI tools take a
-- view's first column as its key: row_key is the text of (run_id, zone_set, zone_code, year,
-- class_code). Floats carry 10 significant digits (no binary noise such as -216195.96899999995);
-- each epoch label also comes as a year and a date.
{{ bi_keyed_view('signal_carbon_stocks', "row(m.run_id, m.zone_set, m.zone_code, m.year, m.class_code)::text") }}
