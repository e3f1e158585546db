{{ config(store_failures=true, schema="intermediate") }}
-- rows of active weights / transition_severity parameter sets that the identification could
-- not use: a pairwise judgement not written 'factor_a>factor_b' with two factors of the run,
-- a non-positive judgement, or a severity whose class at t2 (stratum) is not a class code
-- or whose value lies outside 0..1
select parameter_set, parameter, stratum, value,
       case when parameter = 'ahp_pairwise' and stratum !~ '^[a-z0-9_]+>[a-z0-9_]+$'
                then 'write the pair as factor_a>factor_b'
            when parameter = 'ahp_pairwise' and value <= 0
                then 'judgements must be positive (Saaty 1-9 or their reciprocals)'
            when parameter = 'ahp_pairwise'
                then 'names a factor this run does not have'
            when parameter = 'severity' and stratum !~ '^[0-9]+$'
                then 'stratum must be the class code at t2'
            else 'severity must lie in 0..1' end as problem
from {{ ref('stg_registry__ident_parameters') }} as p
where (parameter = 'ahp_pairwise'
       and (stratum !~ '^[a-z0-9_]+>[a-z0-9_]+$' or value <= 0
            or split_part(stratum, '>', 1) not in (select factor from {{ ref('int_ident_factors') }})
            or split_part(stratum, '>', 2) not in (select factor from {{ ref('int_ident_factors') }})))
   or (parameter = 'severity' and (stratum is null or stratum !~ '^[0-9]+$'
                                   or value < 0 or value > 1))
