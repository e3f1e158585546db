-- depends_on: {{ ref('int_priority_scores') }}
-- depends_on: {{ ref('int_factor_placement') }} {{ ref('int_factor_weights') }} {{ ref('int_factor_stats') }}
-- class breaks of the degradation and importance scores (3 classes: low, medium, high) and of
-- the composite score (5 classes) by the run's grading method: fixed thresholds, quantiles
-- or natural breaks (Fisher-Jenks) of the region's score distribution (1000-bin histograms of
-- the three scores, each tile read once). Fixed thresholds need no pass over the pixels: the
-- scores are not computed here then, and pixels (the scored pixels) is null.
with scores as (
    select * from (values ('composite', 2, 5), ('degradation', 3, 3), ('importance', 4, 3))
        as v(score, band, k)
),

{% if var('grading_method') == 'fixed' %}
hist as (
    select score, k, null::bigint[] as counts, null::numeric as pixels from scores
)
{% else %}
bins as (
{%- if overlay_on_nodes() %}
    -- the run's identification on the data nodes (int_factor_placement): each node computes
    -- the scores of its own factor tiles and their histograms; only the bins travel
    select s.score, s.k, r.i, sum(r.c)::bigint as c
    from raster.node_rows(
        'node-side score histograms', {{ node_overlay_sources() }},
        format('select (x.h).band, u.i, sum(u.c)::bigint as c from ('
               'select raster.np_histograms(o.rast, array[2, 3, 4], 0, 1, 1000) as h '
               'from (%s) as o) as x '
               'cross join lateral unnest((x.h).counts) with ordinality as u(c, i) '
               'group by 1, 2', {{ node_overlay_query(false, false) }})) as j
    cross join lateral jsonb_to_recordset(j.rows) as r(band integer, i integer, c bigint)
    join scores as s on s.band = r.band
    group by s.score, s.k, r.i
{%- else %}
    select s.score, s.k, u.i, sum(u.c)::bigint as c
    from {{ ref('int_priority_scores') }} as t
    cross join lateral raster.np_histograms(t.rast::bytea, array[2, 3, 4], 0, 1, 1000) as h
    join scores as s on s.band = h.band
    cross join lateral unnest(h.counts) with ordinality as u(c, i)
    group by s.score, s.k, u.i
{%- endif %}
),

hist as (
    select score, k, array_agg(c order by i) as counts, sum(c) as pixels
    from bins group by score, k
)
{% endif %}

select
    h.score,
    h.k as classes,
    h.pixels,
    '{{ var("grading_method") }}'::text as method,
    case '{{ var("grading_method") }}'
        when 'fixed' then case when h.k = 3
                               then array{{ var('fixed_breaks_3') }}::float8[]
                               else array{{ var('fixed_breaks_5') }}::float8[] end
        when 'quantile' then array(select ident.histogram_quantile(h.counts, 0, 1, q::float8 / h.k)
                                   from generate_series(1, h.k - 1) as q order by q)
        when 'natural_breaks' then ident.histogram_breaks(h.counts, 0, 1, h.k, 'natural_breaks')
    end as breaks
from hist as h
