-- AHP judgements must be consistent: a pairwise matrix with CR >= ahp_max_cr (default 0.1) is
-- refused and the run fails (revise the judgements of the group named here)
select factor_group, max(ahp_cr) as ahp_cr, max(ahp_lambda_max) as lambda_max
from {{ ref('int_factor_weights') }}
where ahp_cr >= {{ var('ahp_max_cr') }}
group by factor_group
