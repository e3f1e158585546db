-- weights of the factors present in the region, within each group (degradation,
-- importance): explicit (normalised), AHP from the pairwise matrix (an active weights set's
-- ahp_pairwise judgements, else seed identification_ahp; restricted to the present factors;
-- pairs not given count as equal), entropy
-- (d = 1 - e, normalised) and the mix alpha x AHP + (1 - alpha) x entropy; `weight` is the
-- one the run uses (var weight_method)
with present as (
    select f.*, s.entropy,
           row_number() over (partition by f.factor_group order by f.factor) as k
    from {{ ref('int_ident_factors') }} as f
    join {{ ref('int_factor_stats') }} as s on s.factor = f.factor
    where s.pixels > 0
),

judgements as (
    -- an active weights parameter set's pairwise judgements (parameter ahp_pairwise, stratum
    -- 'factor_a>factor_b', value = importance of a over b) replace the built-in matrix
    select split_part(stratum, '>', 1) as factor_a, split_part(stratum, '>', 2) as factor_b,
           value
    from {{ ref('stg_registry__ident_parameters') }}
    where parameter = 'ahp_pairwise'
    union all
    select factor_a, factor_b, value
    from {{ ref('identification_ahp') }}
    where not exists (select 1 from {{ ref('stg_registry__ident_parameters') }}
                      where parameter = 'ahp_pairwise')
),

pairs as (
    select a.factor_group, a.k as ka, b.k as kb,
           case when a.k = b.k then 1.0
                else coalesce(m1.value, 1.0 / m2.value, 1.0) end as value
    from present as a
    join present as b on b.factor_group = a.factor_group
    left join judgements as m1 on m1.factor_a = a.factor and m1.factor_b = b.factor
    left join judgements as m2 on m2.factor_a = b.factor and m2.factor_b = a.factor
),

ahp as (
    select g.factor_group, g.n, x.*
    from (select factor_group, count(distinct ka)::int as n,
                 array_agg(value order by ka, kb) as matrix
          from pairs group by factor_group) as g
    cross join lateral ident.ahp(g.matrix, g.n) as x
),

w as (
    select
        p.factor, p.factor_group, p.group_no, p.direction, p.k as factor_no_in_group,
        p.weight / sum(p.weight) over (partition by p.factor_group) as weight_explicit,
        a.weights[p.k] as weight_ahp,
        case when sum(1 - coalesce(p.entropy, 1)) over (partition by p.factor_group) > 0
             then (1 - coalesce(p.entropy, 1))
                  / sum(1 - coalesce(p.entropy, 1)) over (partition by p.factor_group)
             else 1.0 / count(*) over (partition by p.factor_group) end as weight_entropy,
        a.lambda_max as ahp_lambda_max,
        a.ci as ahp_ci,
        a.cr as ahp_cr,
        a.ri as ahp_ri,
        p.weight_source
    from present as p
    join ahp as a on a.factor_group = p.factor_group
)

select
    w.*,
    {{ var('weight_alpha') }} * weight_ahp + (1 - {{ var('weight_alpha') }}) * weight_entropy
        as weight_mixed,
    case '{{ var("weight_method") }}'
        when 'explicit' then weight_explicit
        when 'ahp' then weight_ahp
        when 'entropy' then weight_entropy
        when 'mixed' then {{ var('weight_alpha') }} * weight_ahp
                          + (1 - {{ var('weight_alpha') }}) * weight_entropy
    end as weight,
    '{{ var("weight_method") }}'::text as weight_method,
    row_number() over (order by group_no, factor) as factor_no
from w
