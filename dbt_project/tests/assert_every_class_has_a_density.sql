-- every land-cover class present in the region needs a carbon density for every pool that the
-- parameter set covers; otherwise its area would silently drop out of the stocks
with present as (
    select distinct class_code from {{ ref('int_landcover_counts') }}
),

pools as (
    select distinct pool from {{ ref('int_carbon_densities') }}
)

select p.class_code, pl.pool
from present as p
cross join pools as pl
left join {{ ref('int_carbon_densities') }} as d
    on d.class_code = p.class_code and d.pool = pl.pool
where d.class_code is null
