{{ config(materialized='ephemeral') }}
-- the service amounts the identification grades, one band each, per land-cover epoch and tile:
-- soil retention (t/ha/yr), water conservation (HJ 1173 balance, mm), water yield
-- (Budyko-Zhang, mm), sand fixation (t/ha/yr) and habitat quality (0..1)
select 'soil_retention' as service, landcover_catalog_id, epoch_label, tile_x, tile_y, rast,
       3 as band
from {{ ref('int_soil_tiles') }}
union all
select 'water_conservation', landcover_catalog_id, epoch_label, tile_x, tile_y, rast, 3
from {{ ref('int_water_tiles') }}
union all
select 'water_yield', landcover_catalog_id, epoch_label, tile_x, tile_y, rast, 1
from {{ ref('int_water_tiles') }}
union all
select 'sand_fixation', landcover_catalog_id, epoch_label, tile_x, tile_y, rast, 3
from {{ ref('int_wind_tiles') }}
union all
select 'habitat_quality', landcover_catalog_id, epoch_label, tile_x, tile_y, rast, 1
from {{ ref('int_habitat_tiles') }}
