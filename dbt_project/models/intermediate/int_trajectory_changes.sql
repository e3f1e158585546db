-- per land-cover trajectory, consecutive period and pool: the class and the dynamic stock
-- (t C/ha, int_trajectory_stocks) at t1 and t2, over pixels valid in both epochs. A class
-- change in the period is dated at t1: converted biomass drops to B_after at once (the
-- conversion term of gain-loss) and grows from there (the gain term); SOC and dead organic
-- matter move from their t1 stock toward the t2 class's equilibrium (class_density_t2).
-- terms_t1, terms_t2: the stocks as linear forms of the run's quantities (int_trajectory_stocks).
with periods as (
    {{ landcover_periods() }}
),

stocks as (
    select * from {{ ref('int_trajectory_stocks') }}
)

select
    s1.classes,
    p.epoch_t1,
    p.epoch_t2,
    p.years,
    s1.pool,
    s1.class_code as class_t1,
    s2.class_code as class_t2,
    s1.carbon_t_per_ha as stock_t1_t_per_ha,
    s2.carbon_t_per_ha as stock_t2_t_per_ha,
    s2.class_density_t_per_ha as class_density_t2_t_per_ha,
    case when s1.class_code <> s2.class_code and s1.pool in ('agb', 'bgb')
         then s2.b_after_t_per_ha end as b_after_t_per_ha,
    s2.rule as rule_t2,
    s1.terms as terms_t1,
    s2.terms as terms_t2
from periods as p
join stocks as s1 on s1.epoch_no = p.no_t1
join stocks as s2
    on s2.classes = s1.classes and s2.epoch_no = p.no_t2 and s2.pool = s1.pool
