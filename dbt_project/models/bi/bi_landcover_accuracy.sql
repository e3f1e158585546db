{{ config(materialized='stable_view', alias='landcover_accuracy',
          post_hook="{{ copy_column_comments('landcover_accuracy') }}") }}
-- marts.landcover_accuracy of the latest succeeded run of every region. QGIS and BI tools take a
-- view's first column as its key: row_key is the text of (run_id, epoch_label, class_code). Floats
-- carry 10 significant digits (no binary noise such as -216195.96899999995); each epoch label also
-- comes as a year and a date.
{{ bi_keyed_view('landcover_accuracy', "row(m.run_id, m.epoch_label, m.class_code)::text") }}
