-- every dynamic stock's linear form (int_trajectory_stocks.terms) evaluated at the quantities'
-- values is the stock, and every quantity is the product of its factors: the uncertainty marts
-- propagate exactly the numbers the stock marts report
with factor_products as (
    select q.quantity, q.value,
           case when bool_or((e.value ->> 1)::float8 = 0) then 0
                else exp(sum(ln(nullif(abs((e.value ->> 1)::float8), 0))))
                     * (case when count(*) filter (where (e.value ->> 1)::float8 < 0) % 2 = 1
                             then -1 else 1 end) end as product
    from {{ ref('int_quantity_factors') }} as q
    cross join lateral jsonb_array_elements(q.factors) as e
    group by q.quantity, q.value
),

bad_factors as (
    select quantity, value, product, null::float8 as evaluated
    from factor_products
    where abs(product - value) > 1e-9 * greatest(abs(value), 1)
),

evaluated as (
    -- a quantity the stock names that has no value makes the whole sum null
    select s.classes, s.epoch_no, s.pool, s.carbon_t_per_ha,
           case when bool_or(t.key is not null and q.quantity is null) then null
                else coalesce(sum(t.value::text::float8 * q.value), 0) end as evaluated
    from {{ ref('int_trajectory_stocks') }} as s
    left join lateral jsonb_each(s.terms) as t on true
    left join {{ ref('int_quantity_factors') }} as q on q.quantity = t.key
    group by 1, 2, 3, 4
)

select quantity, value, product, evaluated from bad_factors
union all
select array_to_string(classes, '-') || ' epoch ' || epoch_no || ' ' || pool,
       carbon_t_per_ha, null, evaluated
from evaluated
where evaluated is null
   or abs(evaluated - carbon_t_per_ha) > 1e-9 * greatest(abs(carbon_t_per_ha), 1)
