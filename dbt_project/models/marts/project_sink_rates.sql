{{ config(pre_hook="{{ delete_this_run() }}") }}
-- the annual carbon sink inside each project before and after its start (all pools): the
-- stock change of the periods that end by the start year, and of those that begin in or after
-- it, per year; null where the land-cover epochs give no such period
with pb as (
    select project_version_id, project_id, project_name, epoch_t1, epoch_t2, max(years) as years,
           sum(change_t) as change_t
    from {{ ref('project_benefits') }}
    where run_id = {{ var('run_id') }}
    group by 1, 2, 3, 4, 5
),

ep as (
    select epoch_label, epoch_year from {{ ref('stg_raster__landcover_epochs') }}
),

proj as (
    select project_version_id, extract(year from start_date)::int as start_year
    from {{ ref('stg_registry__projects') }}
),

rates as (
    select pb.project_version_id, pb.project_id, pb.project_name, pr.start_year,
           count(*) filter (where e2.epoch_year <= pr.start_year) as periods_before,
           count(*) filter (where e1.epoch_year >= pr.start_year) as periods_after,
           sum(pb.change_t) filter (where e2.epoch_year <= pr.start_year)
               / nullif(sum(pb.years) filter (where e2.epoch_year <= pr.start_year), 0)
               as change_before_t_per_yr,
           sum(pb.change_t) filter (where e1.epoch_year >= pr.start_year)
               / nullif(sum(pb.years) filter (where e1.epoch_year >= pr.start_year), 0)
               as change_after_t_per_yr
    from pb
    join proj as pr on pr.project_version_id = pb.project_version_id
    join ep as e1 on e1.epoch_label = pb.epoch_t1
    join ep as e2 on e2.epoch_label = pb.epoch_t2
    group by 1, 2, 3, 4
)

select
    {{ var('run_id') }}::bigint as run_id,
    r.*,
    -ipcc.co2e(r.change_before_t_per_yr) as sink_before_co2e_t_per_yr,
    -ipcc.co2e(r.change_after_t_per_yr) as sink_after_co2e_t_per_yr,
    -ipcc.co2e(r.change_after_t_per_yr) + ipcc.co2e(r.change_before_t_per_yr)
        as sink_rate_change_co2e_t_per_yr
from rates as r
