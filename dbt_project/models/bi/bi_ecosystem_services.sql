{{ config(materialized='stable_view', alias='ecosystem_services', post_hook="{{ copy_column_comments('ecosystem_services') }}") }}
-- marts.ecosystem_services of the latest succeeded run of every region; row_key is service_row_id
{{ bi_keyed_view('ecosystem_services', 'm.service_row_id') }}
