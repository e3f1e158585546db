{{ config(materialized='stable_view', alias='restoration_patches',
          post_hook="{{ copy_column_comments('restoration_patches') }}") }}
-- marts.restoration_patches of the latest succeeded run of every region. QGIS and BI tools take a
-- view's first column as its key: row_key is patch_id (bigint, unique over every run). Floats
-- carry 10 significant digits (no binary noise such as -216195.96899999995); each epoch label also
-- comes as a year and a date.
{{ bi_keyed_view('restoration_patches', "m.patch_id") }}
