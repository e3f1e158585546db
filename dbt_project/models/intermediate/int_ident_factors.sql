-- the factors of this run: the built-in table (seed identification_factors) with weights
-- replaced by an active `weights` parameter set, plus extra factors that a weights set names
-- by a loaded layer's name; the source of each weight is recorded
with builtin as (
    select factor, factor_group, direction, weight, clip_low_pct, clip_high_pct, fixed_low,
           fixed_high, source_layer,
           description, source, 'ecorest default (seed identification_factors)' as weight_source
    from {{ ref('identification_factors') }}
),

overrides as (
    select case parameter when 'degradation_weight' then 'degradation' else 'importance' end
               as factor_group,
           stratum as factor, value, parameter_set
    from {{ ref('stg_registry__ident_parameters') }}
    where kind = 'weights' and stratum is not null
      and parameter in ('degradation_weight', 'importance_weight')
),

merged as (
    select coalesce(b.factor, o.factor) as factor,
           coalesce(o.factor_group, b.factor_group) as factor_group,
           case when o.value is null then b.direction
                when o.value < 0 then -1 else 1 end as direction,
           coalesce(abs(o.value), b.weight) as weight,
           coalesce(b.clip_low_pct, 2) as clip_low_pct,
           coalesce(b.clip_high_pct, 98) as clip_high_pct,
           b.fixed_low,
           b.fixed_high,
           coalesce(b.source_layer, o.factor) as source_layer,
           coalesce(b.description, 'loaded layer ' || o.factor) as description,
           coalesce(b.source, o.parameter_set) as source,
           coalesce(o.parameter_set, b.weight_source) as weight_source,
           b.factor is null as is_extra_layer
    from builtin as b
    full join overrides as o on o.factor = b.factor
)

select
    m.*,
    case m.factor_group when 'degradation' then 1 else 2 end as group_no
from merged as m
where m.weight > 0
