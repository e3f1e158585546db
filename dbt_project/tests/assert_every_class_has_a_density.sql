-- every land-cover class present in the rasters needs a carbon density for every pool the run
-- reports; otherwise its area would silently drop out of that pool. Depends on staging, seeds
-- and the densities only, so `ecorest run` checks it before the per-pixel models
-- (ecorest/run.py, check_densities_first) and names class, pool and IPCC stratum of each row.
select class_code, class_name, ipcc_category, tier1_stratum, pool, ipcc_climate_zone,
       ipcc_soil_type, ipcc_edition, reason
from {{ ref('int_density_gaps') }}
