-- invariant: for the whole region, the transition matrix rows add up to the t1 class areas of
-- the pixels valid in both epochs, and never exceed the class area at t1
with t as (
    select epoch_t1, class_t1, sum(area_ha) as area_ha
    from {{ ref('landcover_transitions') }}
    where run_id = {{ var('run_id') }} and zone_set = 'region'
    group by 1, 2
),

s as (
    select epoch_label, class_code, max(area_ha) as area_ha
    from {{ ref('carbon_stocks') }}
    where run_id = {{ var('run_id') }} and zone_set = 'region'
    group by 1, 2
)

select t.*
from t
join s on s.epoch_label = t.epoch_t1 and s.class_code = t.class_t1
where t.area_ha > s.area_ha + 1e-6
