-- reference samples with a reference land-cover class, each compared with the observed
-- land-cover epoch nearest to its date (the latest observed epoch when it has no date)
with epochs as (
    select e.catalog_id, e.epoch_label, e.epoch_date
    from {{ ref('stg_raster__landcover_epochs') }} as e
    where e.epoch_date <= current_date
),

samples as (
    select s.sample_uid, s.sample_id, s.reference_class, s.sample_date,
           st_transform(s.geom, r.srid) as g
    from {{ source('registry', 'reference_samples') }} as s
    join {{ ref('stg_registry__regions') }} as r on r.region_id = s.region_id
    where s.reference_class is not null
),

matched as (
    select distinct on (s.sample_uid) s.*, e.catalog_id, e.epoch_label
    from samples as s
    cross join epochs as e
    order by s.sample_uid,
             case when s.sample_date is null then 0 else 1 end,
             abs(coalesce(s.sample_date, current_date) - e.epoch_date),
             e.epoch_date desc
)

select m.sample_uid, m.sample_id, m.epoch_label, m.reference_class,
       st_value(t.rast, 1, m.g)::int as map_class
from matched as m
join {{ source('raster', 'tiles') }} as t
    on t.catalog_id = m.catalog_id and st_intersects(t.rast, m.g)
where st_value(t.rast, 1, m.g) is not null
