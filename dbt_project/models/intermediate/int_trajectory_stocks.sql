{{ config(post_hook="{{ fail_on_missing_growth_rates() }}") }}
-- carbon stock (t C/ha) of every pool at every epoch of every land-cover trajectory that the
-- run counts (region, zones, projects and their rings, and the no-change counterfactuals of
-- project pixels), with the IPCC dynamics of converted land (docs/CARBON.md):
--   * the first epoch a pixel is seen: its class's density (age unknown: steady state)
--   * a class change between epochs k-1 and k is dated at epoch k-1 (start of the period)
--   * a change between two classes of the same IPCC land category (e.g. forest age or type
--     strata) is land remaining in its category: biomass takes the new class's density at once
--     (stock-difference between strata, Eq. 2.8)
--   * biomass (agb, bgb; IPCC 2006 Vol.4 Eq. 2.15/2.16) of land converted between categories (or
--     between classes without a category): the old biomass is lost at once, the
--     new class starts at B_after (parameter biomass_after_conversion of the active
--     growth_rates set, else 0) and grows at its growth rate (growth_rate of that set; bgb
--     without its own rate grows with the agb rate x the class's bgb/agb density ratio) up
--     to the class density. Grassland, annual cropland, settlements, wetlands and other land
--     without a rate reach the class density one year after the change (IPCC Tier 1:
--     Table 6.4, Table 5.9). Any other class entered without a rate fails the run.
--   * soc: linear from the SOC reached at the change to the new class's equilibrium over
--     soc_transition_years (D = 20, Eq. 2.25); a second change restarts from the SOC reached
--   * dead_wood, litter: the same linear rule over dom_transition_years (T_on = 20) for gains,
--     dom_loss_years (1) for losses (Eq. 2.23)
-- terms: the same stock as a linear form {quantity: coefficient} of the class densities, B_after
-- and growth rates ("density:<class>:<pool>", "b_after:...", "growth:..."), so that sums and
-- differences of stocks keep which quantities they share (carbon_uncertainty,
-- project_benefit_uncertainty; the branch of a capped growth is that of the estimate)
with recursive epochs as (
    select epoch_no, epoch_label, epoch_year::float8 as epoch_year
    from {{ ref('stg_raster__landcover_epochs') }}
),

densities as (
    select class_code, pool, carbon_t_per_ha from {{ ref('int_carbon_densities') }}
),

project_trajectories as (
    select distinct classes from {{ ref('int_project_trajectories') }}
),

counterfactuals as (
    -- project pixels as if they had kept their class of epoch k - 1 from then on
    select p.classes[1:e.epoch_no - 1]
           || array_fill(p.classes[e.epoch_no - 1],
                         array[(cardinality(p.classes) - e.epoch_no + 1)::int]) as classes
    from project_trajectories as p
    join epochs as e on e.epoch_no >= 2 and e.epoch_no <= cardinality(p.classes)
    where p.classes[e.epoch_no - 1] is not null
),

trajectories as (
    select classes from {{ ref('int_landcover_trajectories') }}
    union
    select classes from project_trajectories
    union
    select classes from counterfactuals
),

observed as (
    select t.classes, u.epoch_no::int as epoch_no, u.class_code, e.epoch_label, e.epoch_year
    from trajectories as t
    cross join lateral unnest(t.classes) with ordinality as u(class_code, epoch_no)
    join epochs as e on e.epoch_no = u.epoch_no
    where u.class_code is not null
),

marked as (
    select o.*,
           lag(o.class_code) over w as previous_class,
           lag(o.epoch_year) over w as previous_year
    from observed as o
    window w as (partition by o.classes order by o.epoch_no)
),

numbered as (
    -- runs of one class (invalid epochs in between are skipped)
    select m.*,
           sum(case when m.previous_class is null or m.previous_class <> m.class_code
                    then 1 else 0 end) over (partition by m.classes order by m.epoch_no)
               as run_no
    from marked as m
),

runs as (
    -- start_year: the year of the change into the run's class (null: seen since the start)
    select classes, run_no, min(class_code) as class_code,
           min(case when previous_class <> class_code then previous_year end) as start_year,
           min(case when previous_class <> class_code then previous_class end) as from_class
    from numbered
    group by classes, run_no
),

legend_classes as (
    select distinct on (lc.class_code) lc.class_code, lc.ipcc_category, lc.cropland_kind
    from {{ source('registry', 'legend_classes') }} as lc
    where lc.legend_id in (select legend_id from {{ ref('stg_registry__legend_classes') }})
    order by lc.class_code, lc.legend_id
),

rules as (
    -- per class and biomass pool: density, B_after, growth rate and the rule that applies
    select * from {{ ref('int_biomass_rules') }}
),

biomass as (
    select n.classes, n.epoch_no, n.epoch_label, n.epoch_year, n.class_code, r.pool,
           r.carbon_t_per_ha as class_density_t_per_ha,
           case when u.start_year is null or fc.ipcc_category = r.ipcc_category
                    then r.carbon_t_per_ha
                when r.rule = 'growth_rate'
                    then least(r.carbon_t_per_ha,
                               r.b_after_t_per_ha
                               + r.growth_t_per_ha_yr * (n.epoch_year - u.start_year))
                when r.rule = 'one_year'
                    then r.b_after_t_per_ha + (r.carbon_t_per_ha - r.b_after_t_per_ha)
                         * least(n.epoch_year - u.start_year, 1)
                end as carbon_t_per_ha,
           u.start_year as entered_year,
           case when u.start_year is null then 'steady_state'
                when fc.ipcc_category = r.ipcc_category then 'same_category'
                else r.rule end as rule,
           -- biomass right after the change (same category: the new stratum's density)
           case when fc.ipcc_category = r.ipcc_category then r.carbon_t_per_ha
                else r.b_after_t_per_ha end as b_after_t_per_ha,
           -- the same stock as a linear form of the run's quantities (docs/CARBON.md):
           -- {"density:<class>:<pool>" | "b_after:..." | "growth:...": coefficient}
           case when u.start_year is null or fc.ipcc_category = r.ipcc_category
                  or (r.rule = 'growth_rate'
                      and r.b_after_t_per_ha + r.growth_t_per_ha_yr
                          * (n.epoch_year - u.start_year) >= r.carbon_t_per_ha)
                    then jsonb_build_object('density:' || r.class_code || ':' || r.pool, 1)
                when r.rule = 'growth_rate'
                    then ipcc.lin_combine(
                        jsonb_build_object('b_after:' || r.class_code || ':' || r.pool, 1), 1,
                        jsonb_build_object('growth:' || r.class_code || ':' || r.pool, 1),
                        n.epoch_year - u.start_year)
                when r.rule = 'one_year'
                    then ipcc.lin_combine(
                        jsonb_build_object('b_after:' || r.class_code || ':' || r.pool, 1),
                        1 - least(n.epoch_year - u.start_year, 1),
                        jsonb_build_object('density:' || r.class_code || ':' || r.pool, 1),
                        least(n.epoch_year - u.start_year, 1))
                end as terms
    from numbered as n
    join runs as u on u.classes = n.classes and u.run_no = n.run_no
    join rules as r on r.class_code = n.class_code
    left join legend_classes as fc on fc.class_code = u.from_class
),

linear_pools as (
    select distinct pool from densities where pool in ('soc', 'dead_wood', 'litter')
),

chain (classes, pool, run_no, start_year, s0, target, span, s0_terms, target_terms) as (
    -- per run: SOC (or DOM) at the change (s0), the new equilibrium (target), the years over
    -- which it is reached (span), s0 and target as linear forms; run 1 is at equilibrium
    select u.classes, p.pool, u.run_no, u.start_year, d.carbon_t_per_ha, d.carbon_t_per_ha,
           1.0::float8, jsonb_build_object('density:' || u.class_code || ':' || p.pool, 1),
           jsonb_build_object('density:' || u.class_code || ':' || p.pool, 1)
    from runs as u
    cross join linear_pools as p
    join densities as d on d.class_code = u.class_code and d.pool = p.pool
    where u.run_no = 1
    union all
    select u.classes, c.pool, u.run_no, u.start_year,
           case when c.start_year is null then c.target
                else c.s0 + (c.target - c.s0)
                     * least((u.start_year - c.start_year) / c.span, 1) end,
           d.carbon_t_per_ha,
           case when c.pool = 'soc' then {{ var('soc_transition_years') }}::float8
                when d.carbon_t_per_ha >= (case when c.start_year is null then c.target
                     else c.s0 + (c.target - c.s0)
                          * least((u.start_year - c.start_year) / c.span, 1) end)
                    then {{ var('dom_transition_years') }}::float8
                else {{ var('dom_loss_years') }}::float8 end,
           case when c.start_year is null then c.target_terms
                else ipcc.lin_combine(c.s0_terms,
                                      1 - least((u.start_year - c.start_year) / c.span, 1),
                                      c.target_terms,
                                      least((u.start_year - c.start_year) / c.span, 1)) end,
           jsonb_build_object('density:' || u.class_code || ':' || c.pool, 1)
    from chain as c
    join runs as u on u.classes = c.classes and u.run_no = c.run_no + 1
    join densities as d on d.class_code = u.class_code and d.pool = c.pool
),

linear as (
    select n.classes, n.epoch_no, n.epoch_label, n.epoch_year, n.class_code, c.pool,
           c.target as class_density_t_per_ha,
           case when c.start_year is null then c.target
                else c.s0 + (c.target - c.s0)
                     * least((n.epoch_year - c.start_year) / c.span, 1) end as carbon_t_per_ha,
           c.start_year as entered_year,
           case when c.start_year is null then 'steady_state'
                else 'linear_' || c.span || '_years' end as rule,
           null::float8 as b_after_t_per_ha,
           case when c.start_year is null then c.target_terms
                else ipcc.lin_combine(c.s0_terms,
                                      1 - least((n.epoch_year - c.start_year) / c.span, 1),
                                      c.target_terms,
                                      least((n.epoch_year - c.start_year) / c.span, 1)) end
               as terms
    from numbered as n
    join chain as c on c.classes = n.classes and c.run_no = n.run_no
)

select * from biomass
union all
select * from linear
