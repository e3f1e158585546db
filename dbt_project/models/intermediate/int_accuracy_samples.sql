-- reference samples of the region with a reference grade, and the grade the run's map gives
-- at their location
with samples as (
    select s.sample_uid, s.sample_id, s.reference_grade, s.source,
           st_transform(s.geom, r.srid) as g
    from {{ source('registry', 'reference_samples') }} as s
    join {{ ref('stg_registry__regions') }} as r on r.region_id = s.region_id
    where s.reference_grade is not null
)

select distinct on (s.sample_uid)
    s.sample_uid, s.sample_id, s.reference_grade, s.source,
    st_value(pt.rast, 1, s.g)::int as map_grade
from samples as s
join {{ ref('priority_tiles') }} as pt
    on pt.run_id = {{ var('run_id') }} and st_intersects(pt.rast, s.g)
where st_value(pt.rast, 1, s.g) is not null
order by s.sample_uid
