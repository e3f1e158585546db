{{ config(materialized='stable_view', alias='projects') }}
-- restoration projects (current versions) of every region with their geometry, for maps, and
-- their benefit in the region's latest succeeded run (summed over periods and pools); first
-- column row_key (the project version) is the key QGIS and BI tools take
select
    p.project_version_id as row_key,
    g.name as region_name,
    p.project_id,
    p.version,
    p.name as project_name,
    p.project_type,
    p.start_date,
    extract(year from p.start_date)::int as start_year,
    p.end_date,
    p.is_example,
    round(p.area_ha::numeric, 4)::float8 as area_ha,
    b.run_id,
    round(b.benefit_t::numeric, 3)::float8 as benefit_t,
    round(b.sink_enhancement_co2e_t_per_yr::numeric, 3)::float8
        as sink_enhancement_co2e_t_per_yr,
    p.geom
from {{ source('registry', 'projects') }} as p
join {{ source('registry', 'regions') }} as g on g.region_id = p.region_id
left join (
    select m.project_version_id, m.run_id, sum(m.benefit_t) as benefit_t,
           sum(m.sink_enhancement_co2e_t_per_yr) as sink_enhancement_co2e_t_per_yr
    from {{ ref('project_benefits') }} as m
    join {{ ref('int_bi_runs') }} as r on r.run_id = m.run_id and r.is_latest
    group by m.project_version_id, m.run_id
) as b on b.project_version_id = p.project_version_id
where p.valid_to is null
