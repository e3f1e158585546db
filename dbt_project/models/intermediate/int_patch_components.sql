-- restoration patches, step 2: the parts of int_patch_parts merged into patches across tile
-- borders. Parts are numbered in (tile, part) order; parts of equal grade sharing a border key
-- are joined (raster.np_components) and each part gets its component's root, the smallest
-- number in it. Components whose pixels x pixel area reach 0.999 x min_patch_ha are the
-- candidates (code 1, 2, ... in root order; null for the others): they are polygonised
-- (int_patch_tiles, restoration_patches), and the polygon area decides
with region as (
    select * from {{ ref('stg_registry__regions') }}
),

nodes as (
    select row_number() over (order by p.tile_x, p.tile_y, p.part) as node,
           p.tile_x, p.tile_y, p.part, p.grade, p.pixels, p.edge_keys
    from {{ ref('int_patch_parts') }} as p
),

border as (
    select n.node, n.grade, k.edge_key
    from nodes as n cross join lateral unnest(n.edge_keys) as k(edge_key)
),

edges as (
    select distinct a.node as a, b.node as b
    from border as a
    join border as b on b.edge_key = a.edge_key and b.grade = a.grade and b.node > a.node
),

components as (
    select c.node, c.root
    from (select array_agg(a) as a, array_agg(b) as b from edges) as e
    cross join lateral raster.np_components(e.a, e.b) as c
),

roots as (
    select n.tile_x, n.tile_y, n.part, n.grade, n.pixels, coalesce(c.root, n.node) as root
    from nodes as n left join components as c on c.node = n.node
),

candidates as (
    -- pixel count x pixel area with a margin: the polygon area decides in restoration_patches
    select s.root, row_number() over (order by s.root)::int as code
    from (select root, sum(pixels) as pixels from roots group by root) as s
    cross join region as r
    where s.pixels * r.pixel_area_ha >= {{ var('min_patch_ha') }} * 0.999
)

select r.tile_x, r.tile_y, r.part, r.grade, r.root, c.code
from roots as r
left join candidates as c on c.root = r.root
