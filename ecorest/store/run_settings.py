"""The typed schema of the model settings (``ecorest run --set KEY=VALUE``).

Every setting of ``dbt_project/dbt_project.yml`` (``vars``) that a user may override has one
entry here: a number (with its range, whole or not), a choice, or a list of numbers (with its
length, range and order). A value reaches dbt — and through dbt's Jinja the SQL of the models —
only after it passed its entry, as a Python ``int``/``float``/``str`` of the checked kind, so a
value can never carry SQL. Messages name the setting, what it must be, and its default.

A setting added to ``dbt_project.yml`` without an entry here is accepted only when it is a plain
number (finite, range unchecked) or a short identifier-like word; add an entry to bound it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache

from ecorest import assets
from ecorest.errors import LoadError

#: set by ``ecorest run`` itself, never by --set
RESERVED = ("run_id", "region_id", "ipcc_edition", "derived_on_nodes")
#: text settings without an entry: one word of letters, digits, ``_``, ``-``, ``.``
WORD = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Number:
    """A finite number in [low, high] (bounds exclusive when ``open_low``/``open_high``)."""

    low: float
    high: float
    integer: bool = False
    open_low: bool = False
    open_high: bool = False

    def describe(self) -> str:
        kind = "a whole number" if self.integer else "a number"
        lo = "(" if self.open_low else "["
        hi = ")" if self.open_high else "]"
        return f"{kind} in {lo}{_fmt(self.low)}, {_fmt(self.high)}{hi}"

    def check(self, key: str, value, default) -> int | float:
        number = _number(value, self.integer)
        if number is None or not (
                (self.low < number if self.open_low else self.low <= number)
                and (number < self.high if self.open_high else number <= self.high)):
            raise _refuse(key, value, self.describe(), default)
        return number


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of words."""

    choices: tuple[str, ...]

    def describe(self) -> str:
        return "one of " + ", ".join(self.choices)

    def check(self, key: str, value, default) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise _refuse(key, value, self.describe(), default)
        return value


@dataclass(frozen=True)
class NumberList:
    """Exactly ``length`` finite numbers in (low, high), strictly increasing.

    Given as a list (``[0.2, 0.4]``) or as text of comma-separated numbers (``0.2,0.4``)."""

    length: int
    low: float
    high: float

    def describe(self) -> str:
        return (f"a list of {self.length} numbers in ({_fmt(self.low)}, {_fmt(self.high)}), "
                "strictly increasing")

    def check(self, key: str, value, default) -> list[float]:
        items = value
        if isinstance(value, str):
            text = value.strip().removeprefix("[").removesuffix("]")
            items = [part.strip() for part in text.split(",")] if text.strip() else []
        if not isinstance(items, (list, tuple)):
            raise _refuse(key, value, self.describe(), default)
        numbers = [_number(v, False) for v in items]
        if any(n is None for n in numbers):
            raise _refuse(key, value, self.describe() + " (not all items are numbers)", default)
        if len(numbers) != self.length:
            raise _refuse(key, value, self.describe() + f" (got {len(numbers)} item"
                          f"{'' if len(numbers) == 1 else 's'})", default)
        if any(not (self.low < n < self.high) for n in numbers):
            raise _refuse(key, value, self.describe() + " (an item is out of range)", default)
        if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
            raise _refuse(key, value, self.describe() + " (not increasing)", default)
        return [float(n) for n in numbers]


@dataclass(frozen=True)
class WordList:
    """Zero or more words of a fixed set, given as a list or as comma-separated text."""

    choices: tuple[str, ...]

    def describe(self) -> str:
        return "a comma-separated list of " + ", ".join(self.choices) + " (or none)"

    def check(self, key: str, value, default) -> str:
        items = value
        if isinstance(value, str):
            text = value.strip().removeprefix("[").removesuffix("]")
            items = [] if text in ("", "none") else [p.strip() for p in text.split(",")]
        if not isinstance(items, (list, tuple)) or any(
                not isinstance(i, str) or i not in self.choices for i in items):
            raise _refuse(key, value, self.describe(), default)
        return ",".join(dict.fromkeys(items)) or "none"


@dataclass(frozen=True)
class CodeList:
    """Zero or more whole numbers in [0, 65534] (land-cover class codes)."""

    def describe(self) -> str:
        return "a comma-separated list of class codes 0 ... 65534 (or none)"

    def check(self, key: str, value, default) -> str:
        items = value
        if isinstance(value, str):
            text = value.strip().removeprefix("[").removesuffix("]")
            items = [] if text in ("", "none") else [p.strip() for p in text.split(",")]
        if isinstance(items, int) and not isinstance(items, bool):
            items = [items]
        if not isinstance(items, (list, tuple)):
            raise _refuse(key, value, self.describe(), default)
        codes = [_number(i, True) for i in items]
        if any(c is None or not 0 <= c <= 65534 for c in codes):
            raise _refuse(key, value, self.describe(), default)
        return ",".join(str(c) for c in dict.fromkeys(codes)) or "none"


Spec = Number | Choice | NumberList | WordList | CodeList

#: the settings a run may override; bounds keep a run's memory and time reasonable
SCHEMA: dict[str, Spec] = {
    "baseline_ring_m": Number(0, 100_000, open_low=True),
    "project_baseline": Choice(("ring", "no_change")),
    "soc_transition_years": Number(1, 1000, integer=True),
    "dom_transition_years": Number(1, 1000, integer=True),
    "dom_loss_years": Number(1, 1000, integer=True),
    "min_plots": Number(1, 100_000, integer=True),
    "cv_folds": Number(2, 100, integer=True),
    # memory of the Monte Carlo kernels grows with draws x classes (sql/025_uncertainty.sql
    # refuses the same range)
    "mc_draws": Number(100, 1_000_000, integer=True),
    "mc_seed": Number(0, 2**31 - 1, integer=True),
    # benefit against matched controls (sql/050_benefit.sql refuses draws outside the range)
    "vegetation_signal": Choice(("auto", "ndvi", "evi", "fvc", "gpp", "npp", "none")),
    "density_method": Choice(("signal", "class")),
    "leakage_belt_m": Number(0, 100_000, open_low=True),
    "control_sample_pixels": Number(100, 1_000_000, integer=True),
    "match_k": Number(1, 50, integer=True),
    "match_caliper_sd": Number(0, 10, open_low=True),
    "match_pre_years": Number(1, 50, integer=True),
    "sink_baseline_years": Number(1, 50, integer=True),
    "sink_post_years": Number(1, 50, integer=True),
    "sink_rate_threshold_pct": Number(-100, 10_000),
    "bootstrap_draws": Number(100, 100_000, integer=True),
    "ndvi_annual_reduce": Choice(("max", "mean")),
    "trend_min_years": Number(3, 1000, integer=True),
    "trend_stable_slope": Number(0, 1),
    "trend_alpha": Number(0, 1, open_low=True, open_high=True),
    "ndvi_min": Number(-1, 1),
    "steep_slope_deg": Number(0, 90, open_low=True, open_high=True),
    "weight_method": Choice(("explicit", "ahp", "entropy", "mixed")),
    "weight_alpha": Number(0, 1),
    "ahp_max_cr": Number(0, 1, open_low=True),
    "degradation_share": Number(0, 1),
    "grading_method": Choice(("fixed", "quantile", "natural_breaks")),
    "fixed_breaks_3": NumberList(2, 0, 1),
    "fixed_breaks_5": NumberList(4, 0, 1),
    "patch_max_grade": Number(1, 5, integer=True),
    "min_patch_ha": Number(0, 1_000_000),
    "accuracy_gate_oa": Number(0, 1),
    # ecosystem services (docs/SERVICES.md)
    "flow_direction": Choice(("mfd", "d8")),
    "threshold_flow_accumulation": Number(1, 10**9, integer=True),
    "l_max": Number(0, 100_000, open_low=True),
    "sdr_k_b": Number(0, 100, open_low=True),
    "sdr_ic_0": Number(0, 100, open_low=True),
    "sdr_max": Number(0, 1, open_low=True),
    "zhang_z": Number(0, 100, open_low=True),
    "hq_half_saturation": Number(0, 1, open_low=True),
    "erosion_region": Choice(("northwest_loess", "northeast_black_soil", "north_rocky_mountain",
                              "south_red_soil", "southwest")),
    "service_grading": Choice(("cumulative_share", "natural_breaks", "quantile")),
    "service_shares": NumberList(2, 0, 1),
    "exclude_types": WordList(("forest", "grassland", "wetland", "cropland", "desert",
                               "settlement", "other")),
    "exclude_classes": CodeList(),
    "fvc_ndvi_soil_pct": Number(0, 100),
    "fvc_ndvi_veg_pct": Number(0, 100),
    "rweq_z_m": Number(0, 10_000, open_low=True),
    "sensitivity_relief_window_m": Number(0, 100_000, open_low=True),
    "sensitivity_erosivity_breaks": NumberList(4, 0, 1e6),
    "sensitivity_erodibility_breaks": NumberList(4, 0, 2),
    "sensitivity_relief_breaks": NumberList(4, 0, 10_000),
    "sensitivity_erosion_cover_breaks": NumberList(4, 0, 1),
    "sensitivity_erosion_class_breaks": NumberList(4, 1, 9),
    "sensitivity_aridity_breaks": NumberList(4, 0, 1000),
    "sensitivity_desert_cover_breaks": NumberList(4, 0, 1),
    "sensitivity_desert_class_breaks": NumberList(4, 1, 9),
    "sensitivity_lithology_breaks": NumberList(4, 0, 1),
    "sensitivity_slope_breaks": NumberList(4, 0, 90),
    "sensitivity_rocky_cover_breaks": NumberList(4, 0, 1),
    "sensitivity_rocky_class_breaks": NumberList(4, 1, 9),
}

#: settings with a fixed set of values (kept for callers of ecorest.run.SETTING_CHOICES)
SETTING_CHOICES = {k: s.choices for k, s in SCHEMA.items() if isinstance(s, Choice)}


@cache
def defaults() -> dict:
    """The settings and their defaults, from ``dbt_project/dbt_project.yml``."""
    import yaml

    return yaml.safe_load((assets.path("dbt_project") / "dbt_project.yml").read_text())["vars"]


def check_settings(values: dict) -> dict:
    """Validate model settings against :data:`SCHEMA`, naming the setting in every refusal.

    Returns the checked values, and normalises ``values`` in place to them (e.g. ``"0.2,0.4"``
    becomes ``[0.2, 0.4]``), so that what is stored with a run is exactly what dbt received.
    """
    known = defaults()
    checked = {}
    for key, value in values.items():
        if not isinstance(key, str) or key in RESERVED or key not in known:
            settable = ", ".join(k for k in known if k not in RESERVED)
            raise LoadError(f"cannot set {key!r}: not a model setting; the settings are "
                            f"{settable} (dbt_project/dbt_project.yml)")
        spec = SCHEMA.get(key)
        if spec is not None:
            checked[key] = spec.check(key, value, known[key])
        elif isinstance(known[key], (int, float)) and not isinstance(known[key], bool):
            number = _number(value, isinstance(known[key], int))
            if number is None:
                raise _refuse(key, value, "a whole number" if isinstance(known[key], int)
                              else "a number", known[key])
            checked[key] = number
        elif isinstance(value, str) and WORD.match(value):
            checked[key] = value
        else:
            raise _refuse(key, value, "one word (letters, digits, _ - .)", known[key])
    values.update(checked)
    return checked


def _number(value, integer: bool) -> int | float | None:
    """``value`` as a finite int (``integer``) or float; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
        except ValueError:
            return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        if integer:
            return int(value) if value.is_integer() else None
        return value
    return None


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


def _refuse(key: str, value, what: str, default) -> LoadError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return LoadError(f"setting {key}={shown} is not allowed: {key} must be {what} "
                     f"(default {default})")
