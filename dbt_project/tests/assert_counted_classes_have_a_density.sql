{{ config(store_failures=true, schema="intermediate") }}
-- safety net after the per-pixel models: every class the land-cover counts hold was seen by the
-- early check (int_landcover_classes) and has a density for every pool of the run
with counted as (
    select distinct class_code from {{ ref('int_landcover_counts') }}
),

pools as (
    select distinct pool from {{ ref('int_carbon_densities') }}
    where carbon_t_per_ha is not null
)

select c.class_code, pl.pool,
       case when s.class_code is null then 'not seen by the early density check'
            else 'no carbon density' end as problem
from counted as c
cross join pools as pl
left join {{ ref('int_landcover_classes') }} as s on s.class_code = c.class_code
left join {{ ref('int_carbon_densities') }} as d
    on d.class_code = c.class_code and d.pool = pl.pool and d.carbon_t_per_ha is not null
where s.class_code is null or d.class_code is null
