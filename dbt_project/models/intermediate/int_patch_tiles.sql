-- restoration patches, step 3: per tile, the parts of the candidate patches and their codes
-- (int_patch_components), the table that drives their polygonising in restoration_patches
select tile_x, tile_y, array_agg(part order by part) as parts,
       array_agg(code order by part) as codes
from {{ ref('int_patch_components') }}
where code is not null
group by tile_x, tile_y
