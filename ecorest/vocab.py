"""Shared vocabularies: every list of allowed codes lives here once.

The database check constraints (``ecorest.store.models``), the command-line choices, the loaders
and the validation messages all read these tuples.
"""

from __future__ import annotations

#: IPCC guidance editions of the default factors
IPCC_EDITIONS = ("2006", "2019")
DEFAULT_IPCC_EDITION = "2006"

#: IPCC climate zones (IPCC 2006 Vol. 4 Ch. 3, Figure 3A.5.1; 2019 Refinement)
IPCC_CLIMATE_ZONES = (
    "boreal", "cold_temperate_dry", "cold_temperate_moist", "warm_temperate_dry",
    "warm_temperate_moist", "tropical_dry", "tropical_moist", "tropical_wet", "tropical_montane",
)

#: IPCC mineral soil types (IPCC 2006 Vol. 4 Ch. 3, Figure 3A.5.3)
IPCC_SOIL_TYPES = ("HAC", "LAC", "sandy", "spodic", "volcanic", "wetland")

#: IPCC land-use categories
IPCC_CATEGORIES = ("forest_land", "cropland", "grassland", "wetlands", "settlements", "other_land")

#: kinds of cropland classes (IPCC 2006 Vol. 4 Ch. 5 factors differ between them)
CROPLAND_KINDS = ("annual", "paddy", "perennial")

#: carbon pools (IPCC 2006 Vol. 4 Ch. 1.3)
CARBON_POOLS = ("agb", "bgb", "dead_wood", "litter", "soc", "total")

#: raster layer kinds with a fixed meaning; ``factor_<name>``, ``threat_<name>`` (habitat
#: threats, 0..1) and ``mask_<name>`` (constraint masks, 1 = excluded) layers come besides them
LAYER_KINDS = ("landcover", "ndvi", "evi", "fvc", "gpp", "npp", "dem",
               # ecosystem services (docs/SERVICES.md)
               "erosivity", "erodibility", "precip", "et0", "aet", "pawc", "soil_depth",
               "access", "wind_factor", "soil_sand", "soil_silt", "soil_clay", "soil_om",
               "soil_caco3", "snow_cover", "lithology")

#: prefixes of named layers: an identification factor, a habitat threat, a constraint mask
NAMED_LAYER_PREFIXES = ("factor", "threat", "mask")

#: what a parameter set holds
PARAMETER_KINDS = ("carbon_pools", "ipcc_defaults", "growth_rates", "weights",
                   "transition_severity", "thresholds", "factor_table", "services", "other")

#: restoration project types
PROJECT_TYPES = (
    "afforestation", "forest_restoration", "grassland_restoration", "wetland_restoration",
    "desertification_control", "mine_rehabilitation", "soil_erosion_control",
    "rocky_desertification_control", "cropland_to_forest", "river_lake_restoration",
    "biodiversity_conservation", "other",
)

#: GB/T 2260 administrative levels
ADMIN_LEVELS = ("province", "city", "county", "township")

#: report languages and formats, export formats
REPORT_LANGS = ("zh", "en")
REPORT_FORMATS = ("html", "pdf", "md")
EXPORT_FORMATS = ("gpkg", "tif", "csv", "xlsx")
