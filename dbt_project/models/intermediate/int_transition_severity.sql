-- severity (0..1) of every land-cover transition between classes of the region's legend: an
-- active transition_severity parameter set where it lists the pair, else the built-in table
-- by ecosystem type (seed degradation_transition_severity); unlisted pairs are 0
with classes as (
    select class_code, ecosystem_type from {{ ref('stg_registry__legend_classes') }}
),

by_type as (
    select a.class_code as class_t1, b.class_code as class_t2, s.severity,
           'ecorest default (seed degradation_transition_severity): ' || s.note as source
    from classes as a
    join classes as b on b.class_code <> a.class_code
    join {{ ref('degradation_transition_severity') }} as s
        on s.from_ecosystem = a.ecosystem_type and s.to_ecosystem = b.ecosystem_type
),

given as (
    select class_code as class_t1, stratum::int as class_t2, value as severity,
           parameter_set || ': ' || coalesce(source, '') as source
    from {{ ref('stg_registry__ident_parameters') }}
    where kind = 'transition_severity' and stratum ~ '^[0-9]+$'
)

select * from given
union all
select t.* from by_type as t
where not exists (select 1 from given as g
                  where g.class_t1 = t.class_t1 and g.class_t2 = t.class_t2)
