{{ config(materialized='stable_view', alias='soc_transition_changes',
          post_hook="{{ copy_column_comments('soc_transition_changes') }}") }}
-- marts.soc_transition_changes of the latest succeeded run of every region. QGIS and BI tools take
-- a view's first column as its key: row_key is the text of (run_id, zone_set, zone_code, epoch_t1,
-- epoch_t2). Floats carry 10 significant digits (no binary noise such as -216195.96899999995);
-- each epoch label also comes as a year and a date.
{{ bi_keyed_view('soc_transition_changes', "row(m.run_id, m.zone_set, m.zone_code, m.epoch_t1, m.epoch_t2)::text") }}
