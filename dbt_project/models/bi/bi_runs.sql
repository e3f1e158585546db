{{ config(materialized='stable_view', alias='runs') }}
-- succeeded assessment runs with their lineage: inputs (layer, epoch, file, checksum),
-- parameter sets, IPCC edition, settings and timings
select
    a.run_id,
    g.name as region_name,
    a.run_id = max(a.run_id) over (partition by a.region_id) as is_latest,
    a.code_version,
    a.ipcc_edition,
    a.started_at,
    a.finished_at,
    extract(epoch from a.finished_at - a.started_at)::float8 as duration_s,
    (select string_agg(c.layer || ' ' || c.epoch_label || ' (' || c.source_path || ', sha256 '
                       || left(c.source_sha256, 12) || ')', '; ' order by c.layer, c.epoch_date)
     from raster.catalog as c where c.catalog_id = any(a.input_catalog_ids)) as inputs,
    (select string_agg(p.name || ' v' || p.version || ' (' || p.kind || ')', '; '
                       order by p.parameter_set_id)
     from registry.parameter_sets as p where p.parameter_set_id = any(a.parameter_set_ids))
        as parameter_sets,
    a.options::text as settings
from {{ source('etl', 'assessment_runs') }} as a
join {{ source('registry', 'regions') }} as g on g.region_id = a.region_id
where a.status = 'succeeded'
