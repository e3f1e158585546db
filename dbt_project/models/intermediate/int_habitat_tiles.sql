{#- before the tiles: threats whose parameters are incomplete or out of range, and land-cover
    epochs that have the layers of some threats but not of all, fail the run naming them
    (only when habitat quality is computed: habitat values and threats both given) -#}
{% set check_inputs %}{% raw %}
do $hq$
declare found text;
begin
  with p as (
    select parameter, class_code, stratum, value
    from {{ ref('stg_registry__service_parameters') }}
  ), t as (
    select stratum as threat,
           max(value) filter (where parameter = 'threat_max_dist') as max_dist_m,
           max(value) filter (where parameter = 'threat_weight') as weight,
           max(value) filter (where parameter = 'threat_decay') as decay
    from p where parameter in ('threat_max_dist', 'threat_weight', 'threat_decay')
    group by stratum
  ), on_grid as (
    select e.epoch_label, t.threat,
           exists (select 1
                   from {{ ref('stg_raster__service_layers') }} as l
                   join {{ source('raster', 'catalog') }} as c on c.catalog_id = l.catalog_id
                   where l.landcover_catalog_id = e.catalog_id and l.layer = 'threat_' || t.threat
                     and (l.epoch_label = e.epoch_label or c.epoch_date <= e.epoch_date))
               as has_layer
    from {{ ref('stg_raster__landcover_epochs') }} as e cross join t
  ), problems as (
    select 'threat ' || threat || ' has no '
           || concat_ws(', ', case when max_dist_m is null then 'threat_max_dist' end,
                        case when weight is null then 'threat_weight' end,
                        case when decay is null then 'threat_decay' end) as problem
    from t where max_dist_m is null or weight is null or decay is null
    union all
    select 'threat ' || threat || ': threat_decay must be 0 (linear) or 1 (exponential), not '
           || decay
    from t where decay not in (0, 1)
    union all
    select 'threat ' || threat || ': threat_max_dist must be positive, not ' || max_dist_m
    from t where max_dist_m <= 0
    union all
    select 'the threat weights must have a positive sum' from t having sum(weight) <= 0
    union all
    select 'land-cover epoch ' || epoch_label || ' has no threat_' || threat
           || ' layer (of the same epoch or dated before it), but has the layers of '
           || (select string_agg(o.threat, ', ' order by o.threat) from on_grid as o
               where o.epoch_label = g.epoch_label and o.has_layer)
           || ': load threat_' || threat || ' for ' || epoch_label
    from on_grid as g
    where not has_layer
      and exists (select 1 from on_grid as o where o.epoch_label = g.epoch_label and o.has_layer)
  )
  select string_agg(problem, '; ' order by problem) into found
  from problems
  where exists (select 1 from p where parameter = 'habitat' and class_code is not null);
  if found is not null then
    raise exception 'habitat quality: %', found;
  end if;
end $hq$
{% endraw %}{% endset %}
{#- each threat tile is read for every land-cover tile within its reach: with the threat layers
    on data nodes, they are copied once into a temporary table first (macro reread_tiles) -#}
{{ config(pre_hook=[check_inputs, "{{ copy_node_tiles(service_layer_ids('threat_'),
                                                      'habitat_threat_tiles') }}"]) }}
-- habitat quality (InVEST 3.20.2, METHODS §3.3) of every land-cover epoch and tile:
-- band 1 habitat_quality (0..1), band 2 degradation (32BF, nodata where the land cover has none)
--   1. per threat (stratum of threat_max_dist / threat_weight / threat_decay) and tile: the
--      decay of the distance to the nearest threat pixel (raster.np_threat_decay) from the
--      threat layer's tiles within threat_max_dist (so threats act across tile borders)
--   2. per tile: degradation and quality from the decays, the weights, the per-class habitat
--      and sensitivity, the access layer (missing = 1) and k = hq_half_saturation
--      (raster.np_habitat_quality)
-- The threat layer of a land-cover epoch is the threat_<name> entry of the same epoch label,
-- else the latest one dated on or before it (stg_raster__service_layers; an entry dated after
-- the epoch is not used). An epoch with none of the threats' layers is not computed (as InVEST
-- skips a land cover without threat rasters); an epoch with some but not all of them fails the
-- run naming the threat and the epoch (pre-hook above). No habitat values or no threats: no rows.
with params as (
    select parameter, class_code, stratum, value
    from {{ ref('stg_registry__service_parameters') }}
),

region as (
    select pixel_size_m, tile_size_px from {{ ref('stg_registry__regions') }}
),

threats as (
    select stratum as threat,
           max(value) filter (where parameter = 'threat_max_dist') as max_dist_m,
           max(value) filter (where parameter = 'threat_weight') as weight,
           max(value) filter (where parameter = 'threat_decay')::int as decay,
           row_number() over (order by stratum) as threat_no
    from params
    where parameter in ('threat_max_dist', 'threat_weight', 'threat_decay')
    group by stratum
),

classes as (
    -- the class x threat table (sensitivity null = not sensitive), only when there are threats
    select array_agg(h.class_code order by h.class_code) as codes,
           array_agg(h.value order by h.class_code) as habitat,
           array_agg(s.sens order by h.class_code) as sens_rows
    from params as h
    cross join lateral (
        select array_agg(p.value order by t.threat_no) as sens
        from threats as t
        left join params as p
            on p.parameter = 'threat_sensitivity' and p.class_code = h.class_code
           and p.stratum = t.threat
    ) as s
    where h.parameter = 'habitat' and h.class_code is not null
    having count(*) > 0 and (select count(*) from threats) > 0
),

sens_flat as (
    select array(select x from unnest(c.sens_rows) as x) as sens from classes as c
),

epochs as (
    select catalog_id, epoch_label, epoch_date from {{ ref('stg_raster__landcover_epochs') }}
),

threat_layers as (
    -- each threat's layer per land-cover epoch (same label, or dated on or before it)
    select l.landcover_catalog_id, t.threat, t.threat_no, t.max_dist_m, t.weight, t.decay,
           l.catalog_id, coalesce(l.scale_factor, 1) as scale_factor,
           coalesce(l.add_offset, 0) as add_offset,
           ceil(floor(t.max_dist_m / r.pixel_size_m) / r.tile_size_px)::int as reach_tiles
    from {{ ref('stg_raster__service_layers') }} as l
    join threats as t on l.layer = 'threat_' || t.threat
    join epochs as e on e.catalog_id = l.landcover_catalog_id
    join {{ source('raster', 'catalog') }} as c on c.catalog_id = l.catalog_id
    cross join region as r
    where l.epoch_label = e.epoch_label or c.epoch_date <= e.epoch_date
),

computed as (
    -- epochs with every threat's layer (the pre-hook fails the run on a partial set)
    select e.catalog_id, e.epoch_label,
           array_agg(tl.weight order by tl.threat_no) as weights
    from epochs as e
    join threat_layers as tl on tl.landcover_catalog_id = e.catalog_id
    group by e.catalog_id, e.epoch_label
    having count(*) = (select count(*) from threats)
),

access as materialized (
    -- the access layer's tiles per land-cover epoch, each entry's read once (not again for
    -- every land-cover tile)
    select a.landcover_catalog_id, t.tile_x, t.tile_y, t.rast,
           coalesce(a.scale_factor, 1) as scale_factor, coalesce(a.add_offset, 0) as add_offset
    from {{ ref('stg_raster__service_layers') }} as a
    cross join {{ entry_tiles('a.catalog_id') }} as t
    where a.layer = 'access'
),

lc_tiles as (
    select c.catalog_id, c.epoch_label, t.tile_x, t.tile_y, t.rast
    from computed as c
    cross join {{ entry_tiles('c.catalog_id') }} as t
    where exists (select 1 from classes)
),

decays as (
    select lt.catalog_id, lt.tile_x, lt.tile_y, tl.threat_no,
           raster.np_threat_decay(
               lt.rast::bytea,
               array(select n.rast::bytea
                     from {{ reread_tiles(service_layer_ids('threat_'),
                                          'habitat_threat_tiles') }} as n
                     where n.catalog_id = tl.catalog_id
                       and n.tile_x between lt.tile_x - tl.reach_tiles
                                        and lt.tile_x + tl.reach_tiles
                       and n.tile_y between lt.tile_y - tl.reach_tiles
                                        and lt.tile_y + tl.reach_tiles),
               tl.max_dist_m, tl.decay, tl.scale_factor, tl.add_offset) as decay
    from lc_tiles as lt
    join threat_layers as tl on tl.landcover_catalog_id = lt.catalog_id
),

decay_stacks as (
    select catalog_id, tile_x, tile_y, array_agg(decay order by threat_no) as decays
    from decays
    group by catalog_id, tile_x, tile_y
)

select
    lt.catalog_id as landcover_catalog_id,
    lt.epoch_label,
    lt.tile_x,
    lt.tile_y,
    st_rastfromwkb(raster.np_habitat_quality(
        lt.rast::bytea, d.decays, c.weights, cl.codes, cl.habitat, sf.sens,
        a.rast::bytea, a.scale_factor, a.add_offset,
        {{ var('hq_half_saturation') }}, lt.epoch_label)) as rast
from lc_tiles as lt
join computed as c on c.catalog_id = lt.catalog_id
join decay_stacks as d
    on d.catalog_id = lt.catalog_id and d.tile_x = lt.tile_x and d.tile_y = lt.tile_y
cross join classes as cl
cross join sens_flat as sf
left join access as a
    on a.landcover_catalog_id = lt.catalog_id and a.tile_x = lt.tile_x and a.tile_y = lt.tile_y
