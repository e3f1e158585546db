{{ config(pre_hook="{{ delete_this_run() }}") }}
-- cost-effectiveness per run and project: the benefit against matched controls summed over the
-- monitoring periods that start at or after the project's start (periods straddling the start
-- are counted apart, not credited) with the bootstrap interval of that sum, as t CO2e removed, per 10,000 CNY of investment_cny and as
-- CNY per t CO2e (null where the investment is unknown or the benefit is not positive)
with b as (
    select project_version_id,
           sum(benefit_t) filter (where timing = 'after_start') as benefit_t,
           sum(benefit_t) filter (where timing = 'straddles_start') as straddling_benefit_t,
           count(*) filter (where timing = 'after_start') as periods,
           min(year_t1) filter (where timing = 'after_start') as from_year,
           max(year_t2) filter (where timing = 'after_start') as to_year
    from {{ ref('project_matched_benefits') }}
    where run_id = {{ var('run_id') }}
    group by project_version_id
)

select
    {{ var('run_id') }}::bigint as run_id,
    p.project_version_id,
    p.project_id,
    p.project_name,
    p.is_example,
    b.periods,
    b.from_year,
    b.to_year,
    b.benefit_t,
    (t.data ->> 'benefit_p2_5_t')::float8 as benefit_p2_5_t,
    (t.data ->> 'benefit_p97_5_t')::float8 as benefit_p97_5_t,
    -ipcc.co2e(b.benefit_t) as benefit_co2e_t,
    b.straddling_benefit_t,
    p.investment_cny::float8 as investment_cny,
    case when p.investment_cny > 0
         then -ipcc.co2e(b.benefit_t) / (p.investment_cny::float8 / 10000) end
        as co2e_t_per_10k_cny,
    case when -ipcc.co2e(b.benefit_t) > 0 and p.investment_cny is not null
         then p.investment_cny::float8 / -ipcc.co2e(b.benefit_t) end as cny_per_co2e_t
from b
join {{ ref('stg_registry__projects') }} as p on p.project_version_id = b.project_version_id
left join {{ ref('int_matched_results') }} as t
    on t.project_version_id = b.project_version_id and t.section = 'total'
