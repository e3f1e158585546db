{{ config(materialized='stable_view', alias='soc_transition_changes', post_hook="{{ copy_column_comments('soc_transition_changes') }}") }}
-- marts.soc_transition_changes of the latest succeeded run of every region
{{ bi_view('soc_transition_changes') }}
