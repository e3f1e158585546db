"""Declarative input specs: which columns a table input has, their types, ranges and codes.

``validate_rows`` turns a :class:`~etl.vectors.FeatureTable` into typed rows plus the issues of
the rows it rejected; every issue names the file, the row/feature and the rule.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from ecorest.errors import LoadError

from .validation import Issue, issue
from .vectors import FeatureTable


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "text"            # text | int | float | date | bool
    required: bool = False
    aliases: tuple[str, ...] = ()
    range: tuple[float | None, float | None] | None = None
    allowed: tuple[str, ...] | None = None
    not_future: bool = False
    #: other spellings of allowed values (e.g. Chinese names of a code) -> the code
    value_aliases: tuple[tuple[str, str], ...] = ()


def norm_name(name: str) -> str:
    """A column name reduced for matching: Unicode NFKC (full-width forms become ASCII), case
    folded, only letters and digits of any script kept — 'Plot ID' and 'plot_id' match, and
    '样地号' stays '样地号' (it does not become empty)."""
    text = unicodedata.normalize("NFKC", str(name)).casefold()
    return "".join(ch for ch in text if ch.isalnum())


_norm = norm_name


def resolve_columns(table: FeatureTable, fields: list[Field],
                    mapping: dict[str, str] | None = None,
                    extra: tuple[str, ...] = ()) -> dict[str, str]:
    """field name -> column name (explicit mapping first, then name and aliases).

    Names match after :func:`norm_name`; a column whose name reduces to nothing (only
    punctuation) never matches an alias, and a column is given to one field only."""
    mapping = dict(mapping or {})
    known = [f.name for f in fields] + list(extra)
    for key, col in mapping.items():  # --map FIELD=COLUMN: an unknown FIELD is a typo
        if key not in known:
            raise LoadError(issue(table.path, "--map", "option.value", option="--map",
                                  value=f"{key}={col}",
                                  reason=f"names no field of this input; its fields are "
                                         f"{', '.join(known)}"))
        if col not in table.columns:
            raise LoadError(issue(table.path, "--map", "table.columns", missing=[col],
                                  found=list(table.columns)))
    by_norm: dict[str, str] = {}
    for c in table.columns:
        key = _norm(c)
        if key and key not in by_norm:  # the first of two same-looking columns wins
            by_norm[key] = c
    out = {}
    taken = {mapping[f.name] for f in fields if f.name in mapping}
    for f in fields:
        if f.name in mapping:
            out[f.name] = mapping[f.name]
            continue
        for cand in (f.name, *f.aliases):
            col = by_norm.get(_norm(cand))
            if col is not None and col not in taken:
                out[f.name] = col
                taken.add(col)
                break
    missing = [f.name for f in fields if f.required and f.name not in out]
    if missing:
        raise LoadError(issue(table.path, "", "table.columns", missing=missing,
                              found=list(table.columns)))
    return out


DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d %H:%M:%S", "%Y年%m月%d日")
#: earliest year a date of an input may have (survey plots, projects, samples, epochs)
MIN_YEAR = 1800


def parse_date(value) -> date:
    """A date, strictly: 2016-02-30 is refused, not read as 2016. A bare year is 1 July."""
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if re.fullmatch(r"\d{4}(\.0)?|\d{4}年", text):
        year = int(text[:4])
        if year < MIN_YEAR:
            raise ValueError(text)
        return date(year, 7, 1)
    for fmt in DATE_FORMATS:
        try:
            day = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if day.year < MIN_YEAR:
            raise ValueError(text)
        return day
    raise ValueError(text)


def convert(value, f: Field):
    if f.type == "text":
        text = str(value)
        if f.value_aliases:
            key = _norm(text)
            for alias, code in f.value_aliases:
                if _norm(alias) == key:
                    return code
        return text
    if f.type == "int":
        number = float(value)
        if not math.isfinite(number) or not number.is_integer():
            raise ValueError(value)
        return int(number)
    if f.type == "float":
        number = float(value)
        if not math.isfinite(number):  # NaN, inf
            raise ValueError(value)
        return number
    if f.type == "date":
        return parse_date(value)
    if f.type == "bool":
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "y", "t"):
            return True
        if text in ("0", "false", "no", "n", "f"):
            return False
        raise ValueError(value)
    raise AssertionError(f.type)


TYPE_NAMES = {"int": "integer", "float": "number", "date": "date (YYYY-MM-DD or year)",
              "bool": "boolean", "text": "text"}


def validate_rows(table: FeatureTable, fields: list[Field], columns: dict[str, str],
                  ) -> tuple[list[tuple[int, dict]], list[Issue]]:
    """Typed rows (index, values) that passed, and the issues of the rows that did not."""
    good: list[tuple[int, dict]] = []
    problems: list[Issue] = []
    bad_rows = {p.item for p in table.issues}
    problems.extend(table.issues)
    today = date.today()
    for i in range(len(table)):
        item = table.items[i]
        if item in bad_rows:
            continue
        raw = table.row(i)
        values, errors = {}, []
        for f in fields:
            col = columns.get(f.name)
            value = raw.get(col) if col else None
            if value is None:
                if f.required:
                    errors.append(issue(table.path, item, "value.required", column=col or f.name,
                                        record=_record(raw)))
                values[f.name] = None
                continue
            try:
                v = convert(value, f)
            except (TypeError, ValueError):
                errors.append(issue(table.path, item, "value.type", column=col, value=value,
                                    type=TYPE_NAMES[f.type], record=_record(raw)))
                continue
            if f.allowed is not None and v not in f.allowed:
                errors.append(issue(table.path, item, "value.code", column=col, value=v,
                                    allowed=list(f.allowed), record=_record(raw)))
                continue
            if f.range is not None:
                lo, hi = f.range
                if (lo is not None and v < lo) or (hi is not None and v > hi):
                    shown = f"[{'' if lo is None else lo}, {'' if hi is None else hi}]"
                    errors.append(issue(table.path, item, "value.range", column=col, value=v,
                                        range=shown, record=_record(raw)))
                    continue
            if f.not_future and isinstance(v, date) and v > today:
                errors.append(issue(table.path, item, "value.date_future", column=col, value=v,
                                    record=_record(raw)))
                continue
            values[f.name] = v
        if errors:
            problems.extend(errors)
        else:
            good.append((i, values))
    return good, problems


def duplicates(table: FeatureTable, rows: list[tuple[int, dict]], key: str,
               column: str) -> tuple[list[tuple[int, dict]], list[Issue]]:
    """Reject every row whose ``key`` occurs more than once (rule id.unique)."""
    counts: dict = {}
    for _, v in rows:
        counts[v[key]] = counts.get(v[key], 0) + 1
    keep, problems = [], []
    for i, v in rows:
        if counts[v[key]] > 1:
            problems.append(issue(table.path, table.items[i], "id.unique", column=column,
                                  value=v[key], count=counts[v[key]],
                                  record=_record(table.row(i))))
        else:
            keep.append((i, v))
    return keep, problems


def _record(raw: dict) -> dict:
    return {k: (v if isinstance(v, (int, float, bool)) or v is None else str(v))
            for k, v in raw.items()}
