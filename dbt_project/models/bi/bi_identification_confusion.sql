{{ config(materialized='stable_view', alias='identification_confusion',
          post_hook="{{ copy_column_comments('identification_confusion') }}") }}
-- marts.identification_confusion of the latest succeeded run of every region. QGIS and BI tools
-- take a view's first column as its key: row_key is the text of (run_id, map_grade,
-- reference_grade). Floats carry 10 significant digits (no binary noise such as
-- -216195.96899999995); each epoch label also comes as a year and a date.
{{ bi_keyed_view('identification_confusion', "row(m.run_id, m.map_grade, m.reference_grade)::text") }}
