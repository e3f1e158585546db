"""The loaded-data schemas (``registry``, ``raster``, ``etl``) as SQLAlchemy metadata.

This module is the reference that Alembic's autogenerate compares against (``alembic check``):
change a table here and in a new revision under ``db/versions`` together. Every column carries a
comment (BI tools and QGIS show them); constraint names come from one naming convention.
Geometries are stored in EPSG:4326 with typed geometry columns; raster tiles live on the region's
own equal-area grid (``registry.regions.srid``).
"""

from __future__ import annotations

from geoalchemy2 import Geometry, Raster
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from ecorest.vocab import (
    ADMIN_LEVELS,
    CARBON_POOLS,
    CROPLAND_KINDS,
    IPCC_CATEGORIES,
    IPCC_EDITIONS,
    IPCC_SOIL_TYPES,
    PROJECT_TYPES,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

WGS84 = 4326

LOADERS = ("region", "legend", "raster", "zones", "projects", "samples", "plots", "params")
LOAD_STATUSES = ("running", "succeeded", "failed", "noop", "superseded")
RUN_STATUSES = ("running", "succeeded", "failed")


def _in(column: str, values: tuple[str, ...], nullable: bool = False) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    expr = f"{column} in ({quoted})"
    return f"{column} is null or {expr}" if nullable else expr


def created_at() -> Column:
    return Column("created_at", DateTime(timezone=True), nullable=False,
                  server_default=text("now()"), comment="When the row was written (UTC)")


def load_fk(nullable: bool = True) -> Column:
    return Column("load_id", BigInteger, ForeignKey("etl.loads.load_id"), nullable=nullable,
                  comment="The load (etl.loads) that wrote this row")


# ================================================================================================
# etl: load log, quarantine, assessment runs
# ================================================================================================
loads = Table(
    "loads", metadata,
    Column("load_id", BigInteger, Identity(), primary_key=True, comment="Load identifier"),
    Column("loader", Text, nullable=False,
           comment="Which loader ran: region, legend, raster, zones, projects, samples, plots, "
                   "params"),
    Column("region_id", Integer, ForeignKey("registry.regions.region_id"),
           comment="Region loaded into (null for region-independent loads such as parameters)"),
    Column("source_path", Text, nullable=False, comment="Path of the input file as given"),
    Column("source_sha256", Text, nullable=False, comment="SHA-256 of the input file's bytes"),
    Column("layer", Text, comment="Raster layer or vector dataset name, where applicable"),
    Column("epoch_label", Text, comment="Epoch of a raster load (year or date), where applicable"),
    Column("status", Text, nullable=False,
           comment="running, succeeded, failed, noop (same file already loaded) or superseded "
                   "(replaced by a later load of the same layer/epoch)"),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=text("now()"),
           comment="When the load started (UTC)"),
    Column("finished_at", DateTime(timezone=True), comment="When the load ended (UTC)"),
    Column("rows_read", BigInteger, comment="Rows, features, pixels or tiles read from the input"),
    Column("rows_loaded", BigInteger, comment="Rows, features or tiles written"),
    Column("rows_quarantined", BigInteger, comment="Rows or features sent to etl.quarantine"),
    Column("warnings", JSONB, nullable=False, server_default=text("'[]'::jsonb"),
           comment="Warnings raised by validation (list of {item, rule, message})"),
    Column("message", Text, comment="Summary or error message"),
    Column("options", JSONB, nullable=False, server_default=text("'{}'::jsonb"),
           comment="Options the load ran with (resampling, strict, units ...)"),
    Column("replaces_load_id", BigInteger, ForeignKey("etl.loads.load_id"),
           comment="Earlier load of the same layer/epoch that this one replaced"),
    Column("db_user", Text, nullable=False, server_default=text("current_user"),
           comment="Database role that ran the load"),
    CheckConstraint(_in("loader", LOADERS), name="loader_known"),
    CheckConstraint(_in("status", LOAD_STATUSES), name="status_known"),
    CheckConstraint("source_sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
    Index(None, "source_sha256"),
    schema="etl",
    comment="Load log: one row per attempted load of one input file",
)

quarantine = Table(
    "quarantine", metadata,
    Column("quarantine_id", BigInteger, Identity(), primary_key=True,
           comment="Quarantine entry identifier"),
    Column("load_id", BigInteger, ForeignKey("etl.loads.load_id"), nullable=False,
           comment="The load that rejected the item"),
    Column("source_path", Text, nullable=False, comment="Input file the item came from"),
    Column("item", Text, nullable=False,
           comment="Which part of the file: 'row 12', 'feature 3', 'tile (4, 7)', 'band 2'"),
    Column("rule", Text, nullable=False, comment="Identifier of the validation rule broken"),
    Column("message", Text, nullable=False, comment="Explanation for a person"),
    Column("record", JSONB, comment="The rejected record as read (attributes, WKT)"),
    created_at(),
    Index(None, "load_id"),
    schema="etl",
    comment="Rows, features or tiles rejected by validation, with the rule they broke",
)

assessment_runs = Table(
    "assessment_runs", metadata,
    Column("run_id", BigInteger, Identity(), primary_key=True, comment="Assessment run identifier"),
    Column("region_id", Integer, ForeignKey("registry.regions.region_id"), nullable=False,
           comment="Region assessed"),
    Column("status", Text, nullable=False, comment="running, succeeded or failed"),
    Column("code_version", Text, nullable=False, comment="ecorest version (and git commit)"),
    Column("ipcc_edition", Text, comment="IPCC guidance edition of default factors: 2006 or 2019"),
    Column("parameter_set_ids", ARRAY(Integer), nullable=False,
           server_default=text("'{}'::integer[]"),
           comment="Parameter sets (registry.parameter_sets) the run used"),
    Column("input_catalog_ids", ARRAY(BigInteger), nullable=False,
           server_default=text("'{}'::bigint[]"),
           comment="Raster catalog entries (raster.catalog) the run read"),
    Column("options", JSONB, nullable=False, server_default=text("'{}'::jsonb"),
           comment="Run options (periods, thresholds, Monte Carlo draws, seed ...)"),
    Column("timings", JSONB, nullable=False, server_default=text("'{}'::jsonb"),
           comment="Seconds spent per step"),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=text("now()"),
           comment="When the run started (UTC)"),
    Column("finished_at", DateTime(timezone=True), comment="When the run ended (UTC)"),
    Column("message", Text, comment="Summary or error message"),
    Column("db_user", Text, nullable=False, server_default=text("current_user"),
           comment="Database role that ran the assessment"),
    CheckConstraint(_in("status", RUN_STATUSES), name="status_known"),
    CheckConstraint(_in("ipcc_edition", IPCC_EDITIONS, nullable=True), name="ipcc_edition"),
    schema="etl",
    comment="Assessment runs: each dbt build of a region, with its inputs, parameters and status",
)

# ================================================================================================
# registry: regions, legends, zones, projects, plots, samples, parameters
# ================================================================================================
legends = Table(
    "legends", metadata,
    Column("legend_id", Integer, Identity(), primary_key=True, comment="Legend identifier"),
    Column("name", Text, nullable=False, unique=True,
           comment="Short name, e.g. clcd, hj1166_l2, gbt21010_l1, invest_willamette"),
    Column("title", Text, comment="Full title"),
    Column("source", Text, nullable=False, comment="Where the class list comes from"),
    created_at(),
    schema="registry",
    comment="Class legends (land-cover / ecosystem classifications)",
)

legend_classes = Table(
    "legend_classes", metadata,
    Column("legend_id", Integer, ForeignKey("registry.legends.legend_id"), nullable=False,
           comment="Legend the class belongs to"),
    Column("class_code", Integer, nullable=False, comment="Pixel value of the class"),
    Column("name_en", Text, nullable=False, comment="Class name in English"),
    Column("name_zh", Text, comment="Class name in Chinese"),
    Column("ipcc_category", Text,
           comment="IPCC land category: forest_land, cropland, grassland, wetlands, settlements, "
                   "other_land"),
    Column("ecosystem_type", Text,
           comment="Ecosystem type of the standard: forest, grassland, wetland, cropland, desert, "
                   "settlement, other"),
    Column("color_hex", Text, comment="Display colour, #rrggbb"),
    Column("cropland_kind", Text,
           comment="For cropland classes: annual, paddy (水田) or perennial (园地, orchards and "
                   "tree crops); selects the IPCC cropland factors"),
    PrimaryKeyConstraint("legend_id", "class_code"),
    CheckConstraint(_in("cropland_kind", CROPLAND_KINDS, nullable=True), name="cropland_kind"),
    CheckConstraint(_in("ipcc_category", IPCC_CATEGORIES, nullable=True), name="ipcc_category"),
    CheckConstraint("color_hex is null or color_hex ~ '^#[0-9a-fA-F]{6}$'", name="color_hex"),
    CheckConstraint("class_code between -32768 and 65535", name="class_code_range"),
    schema="registry",
    comment="Classes of each legend and their crosswalk to IPCC land categories",
)

regions = Table(
    "regions", metadata,
    Column("region_id", Integer, Identity(), primary_key=True, comment="Region identifier"),
    Column("name", Text, nullable=False, unique=True,
           comment="Short name used on the command line (lower case, digits, underscores)"),
    Column("title", Text, comment="Display title"),
    Column("srid", Integer, nullable=False,
           comment="SRID of the region's equal-area grid CRS (in spatial_ref_sys)"),
    Column("crs_name", Text, nullable=False, comment="Name of the grid CRS"),
    Column("pixel_size_m", Double, nullable=False, comment="Pixel edge length of the grid (m)"),
    Column("origin_x", Double, nullable=False,
           comment="Grid origin (upper-left corner) easting, a multiple of the pixel size (m)"),
    Column("origin_y", Double, nullable=False,
           comment="Grid origin (upper-left corner) northing, a multiple of the pixel size (m)"),
    Column("width_px", Integer, nullable=False, comment="Grid width in pixels"),
    Column("height_px", Integer, nullable=False, comment="Grid height in pixels"),
    Column("tile_size_px", Integer, nullable=False, server_default=text("256"),
           comment="Tile edge length in pixels (tiles are square)"),
    Column("legend_id", Integer, ForeignKey("registry.legends.legend_id"),
           comment="Land-cover legend used for categorical layers by default"),
    Column("boundary", Geometry("MULTIPOLYGON", srid=WGS84, spatial_index=False), nullable=False,
           comment="Region boundary (EPSG:4326)"),
    Column("boundary_area_ha", Double, comment="Boundary area on the grid CRS (ha)"),
    created_at(),
    Column("ipcc_climate_zone", Text,
           comment="IPCC climate zone of the region (e.g. warm_temperate_moist): selects the "
                   "Tier 1 defaults (SOC_REF, F_LU, grassland biomass)"),
    Column("ipcc_soil_type", Text,
           comment="Dominant IPCC mineral soil type of the region (HAC, LAC, sandy, spodic, "
                   "volcanic, wetland)"),
    CheckConstraint("name ~ '^[a-z][a-z0-9_]{0,62}$'", name="name_slug"),
    CheckConstraint("pixel_size_m > 0", name="pixel_size_positive"),
    CheckConstraint("tile_size_px between 16 and 4096", name="tile_size_range"),
    CheckConstraint("width_px > 0 and height_px > 0", name="grid_not_empty"),
    CheckConstraint(_in("ipcc_soil_type", IPCC_SOIL_TYPES, nullable=True), name="ipcc_soil_type"),
    schema="registry",
    comment="Assessment regions, each with one canonical equal-area grid",
)

zones = Table(
    "zones", metadata,
    Column("zone_id", BigInteger, Identity(), primary_key=True, comment="Zone identifier"),
    Column("region_id", Integer, ForeignKey("registry.regions.region_id"), nullable=False,
           comment="Region the zone belongs to"),
    Column("zone_set", Text, nullable=False,
           comment="Zone set: 'admin' for GB/T 2260 administrative units, or any other set name "
                   "(watersheds, ecological function zones ...)"),
    Column("zone_code", Text, nullable=False,
           comment="Code within the set; for admin units the 6-digit GB/T 2260 code"),
    Column("name", Text, nullable=False, comment="Zone name"),
    Column("admin_level", Text, comment="province, city, county or township for admin units"),
    Column("parent_code", Text, comment="Code of the enclosing zone in the same set"),
    Column("geom", Geometry("MULTIPOLYGON", srid=WGS84, spatial_index=False), nullable=False,
           comment="Zone polygon (EPSG:4326)"),
    Column("area_ha", Double, comment="Area on the region's grid CRS (ha)"),
    load_fk(),
    UniqueConstraint("region_id", "zone_set", "zone_code"),
    CheckConstraint("zone_set <> 'admin' or zone_code ~ '^[0-9]{6}$'", name="admin_code_gbt2260"),
    CheckConstraint(_in("admin_level", ADMIN_LEVELS, nullable=True),
                    name="admin_level"),
    Index(None, "geom", postgresql_using="gist"),
    schema="registry",
    comment="Administrative units (GB/T 2260 codes) and other zone sets used for summaries",
)

zone_tiles = Table(
    "zone_tiles", metadata,
    Column("region_id", Integer, ForeignKey("registry.regions.region_id", ondelete="CASCADE"),
           nullable=False, comment="Region whose grid the tiles are on (registry.regions)"),
    Column("zone_set", Text, nullable=False, comment="Zone set (registry.zones.zone_set)"),
    Column("tile_x", Integer, nullable=False, comment="Tile column on the region grid (0 = west)"),
    Column("tile_y", Integer, nullable=False, comment="Tile row on the region grid (0 = north)"),
    Column("rast", Raster(spatial_index=False), nullable=False,
           comment="Zone id (registry.zones.zone_id) of each pixel whose centre lies in the "
                   "zone; 0 (nodata) outside every zone; where zones overlap the larger id"),
    Column("load_id", BigInteger, ForeignKey("etl.loads.load_id"), nullable=False,
           comment="The zone load (etl.loads) that wrote the tile"),
    PrimaryKeyConstraint("region_id", "zone_set", "tile_x", "tile_y"),
    schema="registry",
    comment="Zone sets rasterised onto their region's grid when loaded: one tile per grid "
            "position a set touches",
)

projects = Table(
    "projects", metadata,
    Column("project_version_id", BigInteger, Identity(), primary_key=True,
           comment="Identifier of this version of the project"),
    Column("region_id", Integer, ForeignKey("registry.regions.region_id"), nullable=False,
           comment="Region the project lies in"),
    Column("project_id", Text, nullable=False, comment="Project identifier in the registry"),
    Column("version", Integer, nullable=False, comment="Version number, 1 for the first record"),
    Column("name", Text, nullable=False, comment="Project name"),
    Column("project_type", Text, nullable=False,
           comment="afforestation, forest/grassland/wetland restoration, desertification control, "
                   "mine rehabilitation, soil-erosion control, rocky-desertification control ..."),
    Column("start_date", Date, nullable=False, comment="Start of implementation"),
    Column("end_date", Date, comment="End of implementation (null while ongoing)"),
    Column("investment_cny", Numeric(18, 2), comment="Total investment (CNY)"),
    Column("agency", Text, comment="Implementing or responsible agency"),
    Column("description", Text, comment="Free-text description"),
    Column("is_example", Boolean, nullable=False, server_default=text("false"),
           comment="True for illustrative example projects (not a real registry record)"),
    Column("geom", Geometry("MULTIPOLYGON", srid=WGS84, spatial_index=False), nullable=False,
           comment="Project footprint (EPSG:4326)"),
    Column("area_ha", Double, comment="Footprint area on the region's grid CRS (ha)"),
    Column("valid_from", DateTime(timezone=True), nullable=False, server_default=text("now()"),
           comment="When this version became the current record"),
    Column("valid_to", DateTime(timezone=True),
           comment="When this version was superseded (null = current version)"),
    Column("record_sha256", Text, nullable=False,
           comment="SHA-256 of the normalised record; a changed record gets a new version"),
    load_fk(),
    UniqueConstraint("region_id", "project_id", "version"),
    CheckConstraint(_in("project_type", PROJECT_TYPES), name="project_type_known"),
    CheckConstraint("version >= 1", name="version_positive"),
    CheckConstraint("end_date is null or end_date >= start_date", name="dates_ordered"),
    CheckConstraint("investment_cny is null or investment_cny >= 0", name="investment_nonneg"),
    CheckConstraint("valid_to is null or valid_to >= valid_from", name="validity_ordered"),
    Index("uq_projects_current", "region_id", "project_id", unique=True,
          postgresql_where=text("valid_to is null")),
    Index(None, "geom", postgresql_using="gist"),
    schema="registry",
    comment="Restoration projects with full history: a change adds a version, nothing is deleted",
)

project_measures = Table(
    "project_measures", metadata,
    Column("project_version_id", BigInteger, ForeignKey("registry.projects.project_version_id"),
           nullable=False, comment="Project version the measure belongs to"),
    Column("measure_no", Integer, nullable=False, comment="Measure number within the project"),
    Column("measure_type", Text, nullable=False,
           comment="Kind of measure (planting, enclosure, terracing, check dam, reshaping ...)"),
    Column("description", Text, comment="Free-text description"),
    Column("area_ha", Double, comment="Area treated (ha)"),
    Column("quantity", Double, comment="Quantity in the unit given"),
    Column("unit", Text, comment="Unit of quantity"),
    PrimaryKeyConstraint("project_version_id", "measure_no"),
    CheckConstraint("area_ha is null or area_ha >= 0", name="area_nonneg"),
    schema="registry",
    comment="Measures implemented by each project version",
)

survey_plots = Table(
    "survey_plots", metadata,
    Column("plot_uid", BigInteger, Identity(), primary_key=True, comment="Plot identifier"),
    Column("region_id", Integer, ForeignKey("registry.regions.region_id"), nullable=False,
           comment="Region the plot lies in"),
    Column("plot_id", Text, nullable=False, comment="Plot identifier in the survey"),
    Column("geom", Geometry("POINT", srid=WGS84, spatial_index=False), nullable=False,
           comment="Plot centre (EPSG:4326)"),
    Column("plot_area_m2", Double, comment="Plot area (m²)"),
    Column("land_cover_code", Integer, comment="Land-cover class at the plot (region legend)"),
    Column("ecosystem_type", Text, comment="Ecosystem type: forest, grassland, wetland, cropland, "
                                           "desert ..."),
    Column("stratum", Text, comment="Climate/soil or other stratum label"),
    Column("source", Text, comment="Survey or dataset the plot comes from"),
    load_fk(),
    UniqueConstraint("region_id", "plot_id"),
    CheckConstraint("plot_area_m2 is null or plot_area_m2 > 0", name="plot_area_positive"),
    Index(None, "geom", postgresql_using="gist"),
    schema="registry",
    comment="Field survey plots",
)

plot_measurements = Table(
    "plot_measurements", metadata,
    Column("measurement_id", BigInteger, Identity(), primary_key=True,
           comment="Measurement identifier"),
    Column("plot_uid", BigInteger, ForeignKey("registry.survey_plots.plot_uid"), nullable=False,
           comment="Plot measured"),
    Column("measured_date", Date, nullable=False, comment="Date of the measurement"),
    Column("pool", Text, nullable=False,
           comment="Carbon pool: agb, bgb, dead_wood, litter, soc or total"),
    Column("value_original", Double, nullable=False, comment="Value as given in the input"),
    Column("unit_original", Text, nullable=False,
           comment="Unit as given (t/ha, Mg/ha, kg/m2, g/m2; dry matter or carbon)"),
    Column("carbon_fraction", Double,
           comment="Carbon fraction used to convert dry matter to carbon (null if given as C)"),
    Column("carbon_t_per_ha", Double, nullable=False, comment="Carbon density (t C/ha)"),
    Column("method", Text, nullable=False,
           comment="How the value was obtained: measured, allometry name, soil layers ..."),
    Column("uncertainty_pct", Double, comment="95 % CI half-width as % of the value"),
    load_fk(),
    UniqueConstraint("plot_uid", "measured_date", "pool"),
    CheckConstraint(_in("pool", CARBON_POOLS), name="pool_known"),
    CheckConstraint("carbon_t_per_ha >= 0", name="carbon_nonneg"),
    CheckConstraint("carbon_fraction is null or carbon_fraction between 0.3 and 0.6",
                    name="carbon_fraction_range"),
    schema="registry",
    comment="Measured carbon per pool at survey plots, converted to t C/ha",
)

plot_trees = Table(
    "plot_trees", metadata,
    Column("tree_uid", BigInteger, Identity(), primary_key=True, comment="Tree record identifier"),
    Column("plot_uid", BigInteger, ForeignKey("registry.survey_plots.plot_uid"), nullable=False,
           comment="Plot the tree stands in"),
    Column("measured_date", Date, nullable=False, comment="Date of the measurement"),
    Column("tree_no", Text, nullable=False, comment="Tree number within the plot"),
    Column("species", Text, comment="Species (scientific name)"),
    Column("dbh_cm", Double, nullable=False, comment="Diameter at breast height, 1.3 m (cm)"),
    Column("height_m", Double, comment="Tree height (m)"),
    Column("wood_density_g_per_cm3", Double, comment="Basic wood density (g/cm³)"),
    Column("agb_kg", Double, comment="Above-ground biomass from the allometry (kg dry matter)"),
    Column("allometry", Text, comment="Name of the allometric equation used"),
    load_fk(),
    UniqueConstraint("plot_uid", "measured_date", "tree_no"),
    CheckConstraint("dbh_cm > 0 and dbh_cm < 500", name="dbh_range"),
    CheckConstraint("height_m is null or (height_m > 0 and height_m < 130)", name="height_range"),
    schema="registry",
    comment="Tree lists of survey plots",
)

plot_soil_layers = Table(
    "plot_soil_layers", metadata,
    Column("plot_uid", BigInteger, ForeignKey("registry.survey_plots.plot_uid"), nullable=False,
           comment="Plot sampled"),
    Column("measured_date", Date, nullable=False, comment="Date of sampling"),
    Column("top_cm", Double, nullable=False, comment="Layer top depth (cm)"),
    Column("bottom_cm", Double, nullable=False, comment="Layer bottom depth (cm)"),
    Column("soc_g_per_kg", Double, nullable=False, comment="Soil organic carbon content (g/kg)"),
    Column("bulk_density_g_per_cm3", Double, nullable=False, comment="Bulk density (g/cm³)"),
    Column("gravel_fraction", Double, nullable=False, server_default=text("0"),
           comment="Volume fraction of gravel > 2 mm (0-1)"),
    Column("soc_t_per_ha", Double, nullable=False,
           comment="SOC density of the layer = SOC × BD × depth × (1 − gravel) × 0.1 (t C/ha)"),
    load_fk(),
    PrimaryKeyConstraint("plot_uid", "measured_date", "top_cm"),
    CheckConstraint("bottom_cm > top_cm and top_cm >= 0", name="depths_ordered"),
    CheckConstraint("soc_g_per_kg >= 0 and soc_g_per_kg < 600", name="soc_range"),
    CheckConstraint("bulk_density_g_per_cm3 > 0 and bulk_density_g_per_cm3 < 2.7",
                    name="bulk_density_range"),
    CheckConstraint("gravel_fraction >= 0 and gravel_fraction < 1", name="gravel_range"),
    schema="registry",
    comment="Soil layers sampled at survey plots",
)

reference_samples = Table(
    "reference_samples", metadata,
    Column("sample_uid", BigInteger, Identity(), primary_key=True, comment="Sample identifier"),
    Column("region_id", Integer, ForeignKey("registry.regions.region_id"), nullable=False,
           comment="Region the sample lies in"),
    Column("sample_id", Text, nullable=False, comment="Sample identifier in the source"),
    Column("geom", Geometry("POINT", srid=WGS84, spatial_index=False), nullable=False,
           comment="Sample location (EPSG:4326)"),
    Column("reference_class", Integer, comment="Reference land-cover class (region legend)"),
    Column("reference_grade", Integer, comment="Reference restoration priority grade"),
    Column("sample_date", Date, comment="Date of observation"),
    Column("source", Text, comment="Field check, high-resolution imagery interpretation ..."),
    load_fk(),
    UniqueConstraint("region_id", "sample_id"),
    CheckConstraint("reference_class is not null or reference_grade is not null",
                    name="has_reference"),
    Index(None, "geom", postgresql_using="gist"),
    schema="registry",
    comment="Reference samples for accuracy assessment of maps and identified areas",
)

parameter_sets = Table(
    "parameter_sets", metadata,
    Column("parameter_set_id", Integer, Identity(), primary_key=True,
           comment="Parameter set identifier"),
    Column("name", Text, nullable=False, comment="Parameter set name"),
    Column("version", Integer, nullable=False, comment="Version of the set (1, 2, ...)"),
    Column("kind", Text, nullable=False,
           comment="carbon_pools, ipcc_defaults, growth_rates, weights, transition_severity, "
                   "thresholds, factor_table ..."),
    Column("description", Text, comment="What the set contains"),
    Column("source_text", Text, nullable=False, comment="Bibliographic source of the values"),
    Column("source_sha256", Text, comment="SHA-256 of the file the set was loaded from"),
    Column("ipcc_edition", Text, comment="IPCC edition for IPCC default sets: 2006 or 2019"),
    Column("is_active", Boolean, nullable=False, server_default=text("true"),
           comment="Whether runs use this set by default"),
    Column("region_id", Integer, ForeignKey("registry.regions.region_id"),
           comment="Region that owns the set; null for a global set every region may use"),
    created_at(),
    load_fk(),
    UniqueConstraint("region_id", "name", "version", postgresql_nulls_not_distinct=True),
    CheckConstraint("version >= 1", name="version_positive"),
    CheckConstraint(_in("ipcc_edition", IPCC_EDITIONS, nullable=True), name="ipcc_edition"),
    schema="registry",
    comment="Versioned parameter sets (carbon densities, factors, weights ...), each with a source",
)

parameter_values = Table(
    "parameter_values", metadata,
    Column("parameter_value_id", BigInteger, Identity(), primary_key=True,
           comment="Parameter value identifier"),
    Column("parameter_set_id", Integer, ForeignKey("registry.parameter_sets.parameter_set_id"),
           nullable=False, comment="Set the value belongs to"),
    Column("parameter", Text, nullable=False,
           comment="Parameter name, e.g. carbon_density, root_shoot_ratio, weight"),
    Column("class_code", Integer, comment="Land-cover class the value applies to (null = any)"),
    Column("pool", Text, comment="Carbon pool the value applies to (null = not pool-specific)"),
    Column("stratum", Text, comment="Stratum (climate, soil, zone ...) (null = any)"),
    Column("value", Double, nullable=False, comment="The value, in the unit given"),
    Column("unit", Text, nullable=False, comment="Unit of the value, e.g. 't C/ha', '1'"),
    Column("uncertainty_pct", Double, comment="95 % CI half-width as % of the value"),
    Column("source", Text, comment="Source of this value when it differs from the set's"),
    UniqueConstraint("parameter_set_id", "parameter", "class_code", "pool", "stratum",
                     postgresql_nulls_not_distinct=True),
    CheckConstraint(_in("pool", CARBON_POOLS, nullable=True), name="pool_known"),
    CheckConstraint("uncertainty_pct is null or uncertainty_pct >= 0", name="uncertainty_nonneg"),
    schema="registry",
    comment="Values of parameter sets, keyed by parameter, class, pool and stratum",
)

# ================================================================================================
# raster: catalog and tiles
# ================================================================================================
catalog = Table(
    "catalog", metadata,
    Column("catalog_id", BigInteger, Identity(), primary_key=True,
           comment="Catalog entry identifier (one layer, one epoch, one region)"),
    Column("region_id", Integer, ForeignKey("registry.regions.region_id"), nullable=False,
           comment="Region whose grid the layer is on"),
    Column("layer", Text, nullable=False,
           comment="Layer kind: landcover, ndvi, evi, fvc, dem, or factor_<name>"),
    Column("value_kind", Text, nullable=False, comment="categorical or continuous"),
    Column("epoch_label", Text, nullable=False, comment="Epoch as given: a year or a date"),
    Column("epoch_date", Date, nullable=False,
           comment="Epoch as a date (1 July of the year for annual layers)"),
    Column("legend_id", Integer, ForeignKey("registry.legends.legend_id"),
           comment="Legend of a categorical layer"),
    Column("source_path", Text, nullable=False, comment="Input file as given"),
    Column("source_sha256", Text, nullable=False, comment="SHA-256 of the input file"),
    Column("source_band", Integer, nullable=False, server_default=text("1"),
           comment="Band of the input file"),
    Column("source_crs", Text, nullable=False, comment="CRS of the input (authority code or WKT)"),
    Column("source_res_x", Double, nullable=False, comment="Input pixel width, input CRS units"),
    Column("source_res_y", Double, nullable=False, comment="Input pixel height, input CRS units"),
    Column("resampling", Text, nullable=False,
           comment="Resampling used to reach the grid (nearest, mode, bilinear, average ...)"),
    Column("pixel_type", Text, nullable=False, comment="PostGIS pixel type: 8BUI, 16BSI, 32BF ..."),
    Column("nodata", Double, comment="Nodata value of the stored tiles"),
    Column("scale_factor", Double, nullable=False, server_default=text("1"),
           comment="Physical value = stored value × scale_factor + add_offset"),
    Column("add_offset", Double, nullable=False, server_default=text("0"),
           comment="Physical value = stored value × scale_factor + add_offset"),
    Column("units", Text, comment="Units of the physical value (1 for indices, m for DEM ...)"),
    Column("valid_count", BigInteger, comment="Pixels with data inside the grid"),
    Column("value_min", Double, comment="Minimum physical value"),
    Column("value_max", Double, comment="Maximum physical value"),
    Column("value_mean", Double, comment="Mean physical value"),
    Column("tile_count", Integer, comment="Tiles stored (all-nodata tiles are skipped)"),
    Column("is_current", Boolean, nullable=False, server_default=text("true"),
           comment="False once replaced by a corrected file for the same layer/epoch"),
    load_fk(nullable=False),
    created_at(),
    CheckConstraint(_in("value_kind", ("categorical", "continuous")), name="value_kind"),
    CheckConstraint("value_kind <> 'categorical' or legend_id is not null",
                    name="categorical_has_legend"),
    Index("uq_catalog_current", "region_id", "layer", "epoch_label", unique=True,
          postgresql_where=text("is_current")),
    schema="raster",
    comment="Raster catalog: every layer/epoch loaded onto a region grid, with provenance",
)

tiles = Table(
    "tiles", metadata,
    Column("catalog_id", BigInteger, ForeignKey("raster.catalog.catalog_id"), nullable=False,
           comment="Catalog entry (layer, epoch) of the tile"),
    Column("tile_x", Integer, nullable=False, comment="Tile column on the region grid (0 = west)"),
    Column("tile_y", Integer, nullable=False, comment="Tile row on the region grid (0 = north)"),
    Column("rast", Raster(spatial_index=False), nullable=False,
           comment="Tile raster on the region grid"),
    PrimaryKeyConstraint("catalog_id", "tile_x", "tile_y"),
    schema="raster",
    comment="Raster tiles; partitioned by catalog entry, each partition with raster constraints",
    postgresql_partition_by="LIST (catalog_id)",
)
