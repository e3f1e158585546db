{{ config(pre_hook="{{ delete_this_run() }}") }}
-- accuracy of a run's priority grades against reference samples, per grade: user's and
-- producer's accuracy, mapped and area-adjusted area with 95 % confidence intervals
-- (stratified estimators, Olofsson et al. 2014), and, repeated on each row, the run's overall
-- accuracy (area-weighted, with CI), the sample overall accuracy, kappa and the gate
-- (overall accuracy >= accuracy_gate_oa)
with region as (
    select * from {{ ref('stg_registry__regions') }}
),

mapped as (
    select x.v1 as grade, sum(x.pixels) as pixels
    from {{ ref('priority_tiles') }} as pt
    cross join lateral raster.crosstab(null, pt.rast, null) as x
    where pt.run_id = {{ var('run_id') }}
    group by x.v1
),

s as (
    select * from {{ ref('int_accuracy_samples') }}
),

classes as (
    select grade from mapped
    union
    select map_grade from s
    union
    select reference_grade from s
),

cells as (
    select a.grade as map_grade, b.grade as ref_grade,
           (select count(*) from s where s.map_grade = a.grade and s.reference_grade = b.grade)
               as n
    from classes as a cross join classes as b
),

inputs as (
    select array_agg(c.n::float8 order by c.map_grade, c.ref_grade) as counts,
           (select array_agg(grade order by grade) from classes) as grades,
           (select array_agg(coalesce(m.pixels, 0) * r.pixel_area_ha order by k.grade)
            from classes as k left join mapped as m on m.grade = k.grade
            cross join region as r) as areas,
           (select count(*) from s) as samples
    from cells as c
)

select
    {{ var('run_id') }}::bigint as run_id,
    o.class_code as grade,
    g.name_en as grade_name_en,
    g.name_zh as grade_name_zh,
    {{ olofsson_columns() }}
from inputs as i
cross join lateral ident.olofsson(i.counts, i.grades, i.areas) as o
left join {{ ref('priority_grades') }} as g on g.grade = o.class_code
where i.samples > 0
