-- the benefit whose uncertainty is reported equals the benefit in project_benefits
select b.project_version_id, b.epoch_t1, b.pool, b.benefit_t, u.benefit_t as uncertainty_benefit_t
from {{ ref('project_benefits') }} as b
join {{ ref('project_benefit_uncertainty') }} as u
    on u.run_id = b.run_id and u.project_version_id = b.project_version_id
   and u.epoch_t1 = b.epoch_t1 and u.pool = b.pool
where b.run_id = {{ var('run_id') }}
  and abs(b.benefit_t - u.benefit_t) > 1e-6 * greatest(abs(b.benefit_t), 1)
