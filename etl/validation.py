"""Validation messages and the errors loaders raise.

Every problem found in an input is an :class:`Issue`: the file, the item (row, feature, tile,
band), the rule broken and a message from the catalogue below. Loaders collect issues before
writing; an error either rejects the item (quarantine) or, for file-level rules and in
``--strict`` mode, fails the whole load with :class:`LoadError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ecorest.errors import LoadError

#: rule id -> message template (``str.format`` fields are filled by the loader)
MESSAGES: dict[str, str] = {
    # files
    "file.exists": "file not found",
    "file.not_empty": "file is empty (0 bytes)",
    "file.readable": "not a readable {what} file ({detail})",
    "file.format": "{detail}",
    "file.size": "is {size}, more than the {limit} a table may have ({advice})",
    # coordinate reference systems
    "crs.present": "has no coordinate reference system; give one with --crs or fix the file",
    "crs.known": "coordinate reference system {crs!r} is not known to PROJ ({detail})",
    "crs.equal_area": ("CRS {crs} is not an equal-area projection; a region grid must be "
                       "equal-area so that pixel area is constant (e.g. {suggestion})"),
    "crs.mixed": "layer CRS {crs} differs from the first layer's {first}; use one CRS per file",
    "crs.in_spatial_ref_sys": "{detail}",
    # rasters
    "raster.band": "has {count} band(s); band {band} does not exist",
    "raster.categorical_integer": ("holds {dtype} values but layer {layer!r} is categorical: "
                                   "class codes must be integers"),
    "raster.overlap": "does not overlap region {region!r} (its footprint lies outside the grid)",
    "raster.all_nodata": "has no valid pixel inside region {region!r} (all nodata)",
    "raster.value_range": ("{count} pixel(s) outside the valid range [{lo}, {hi}] of {layer} "
                           "(min {vmin:g}, max {vmax:g}){hint}"),
    "raster.legend_codes": ("{count} pixel(s) with class code(s) {codes} not in legend "
                            "{legend!r}"),
    "raster.nodata": "{detail}",
    "raster.epoch": "{detail}",
    "option.value": "{option} {value} {reason}",
    # vectors and tables
    "table.columns": "missing required column(s) {missing}; found {found}",
    "table.empty": "has no rows / features",
    "value.required": "{column} is empty",
    "value.type": "{column} = {value!r} is not a valid {type}",
    "value.range": "{column} = {value} is outside the valid range {range}",
    "value.code": "{column} = {value!r} is not one of {allowed}",
    "value.unit": "{column}: unit {value!r} is not one of {allowed}",
    "value.date_future": "{column} = {value} lies in the future",
    "id.unique": "{column} {value!r} occurs {count} times in the file",
    "soil.depth_0_30": ("soil profile: {reason}; IPCC SOC_REF stocks are for 0-{depth} cm, so "
                        "the layers are kept but give no SOC stock (give layers covering "
                        "0-{depth} cm without gaps or overlaps)"),
    "geometry.present": "has no geometry",
    "geometry.type": "geometry type {gtype} is not allowed here (expected {expected})",
    "geometry.valid": "geometry is invalid ({reason})",
    "geometry.repaired": "geometry was invalid ({reason}) and was repaired with ST_MakeValid",
    "geometry.inside_region": "lies outside region {region!r}",
    "region.exists": "region {region!r} does not exist; create it with `ecorest region create`",
    "region.duplicate": "region {region!r} already exists with another boundary; a region "
                        "never changes once created: create a region under another name",
    "region.immutable": "region {region!r} already exists with {setting} {stored}, not "
                        "{given}; {advice}",
    "legend.exists": "legend {legend!r} is not registered; load it with `ecorest load legend`",
    "db.connection": ("the connection to the database server was lost during the load "
                      "({detail}); the server rolled the load back, nothing was stored — load "
                      "the file again when the server is reachable"),
    "params.format": "{detail}",
    "params.parameter": ("parameter {parameter!r} is not a parameter of kind {kind} (its "
                         "parameters: {known}){hint}; the set would load but no model would "
                         "read the value"),
    "params.magnitude": "{detail}",
    "params.weights": "{detail}",
    "params.ahp": "{detail}",
    "params.kind": ("parameter set {name!r} ({owner}) holds kind {stored}, not {given}; a name "
                    "keeps its kind across versions: load the file under another --name"),
}


@dataclass(frozen=True)
class Issue:
    """One validation finding."""

    path: str
    item: str
    rule: str
    message: str
    severity: str = "error"  # error | warning
    record: dict | None = field(default=None, compare=False)

    def __str__(self) -> str:
        where = f"{self.path}, {self.item}" if self.item else self.path
        return f"{where}: {self.message} [rule {self.rule}]"


def issue(path: str | Path, item: str, rule: str, severity: str = "error",
          record: dict | None = None, **fields) -> Issue:
    """Build an :class:`Issue` from the message catalogue."""
    message = MESSAGES[rule].format(**fields)
    return Issue(str(path), item, rule, message, severity, record)



def fail(path: str | Path, item: str, rule: str, **fields) -> LoadError:
    """A :class:`LoadError` for one file-level problem (``raise fail(...)``)."""
    return LoadError(issue(path, item, rule, **fields))
