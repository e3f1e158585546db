"""Declarative input specs: which columns a table input has, their types, ranges and codes.

``validate_rows`` turns a :class:`~etl.vectors.FeatureTable` into typed rows plus the issues of
the rows it rejected; every issue names the file, the row/feature and the rule.
"""

from __future__ import annotations

import re
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


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def resolve_columns(table: FeatureTable, fields: list[Field],
                    mapping: dict[str, str] | None = None) -> dict[str, str]:
    """field name -> column name (explicit mapping first, then name and aliases)."""
    mapping = dict(mapping or {})
    by_norm = {_norm(c): c for c in table.columns}
    out = {}
    for f in fields:
        if f.name in mapping:
            col = mapping[f.name]
            if col not in table.columns:
                raise LoadError(issue(table.path, "", "table.columns", missing=[col],
                                      found=list(table.columns)))
            out[f.name] = col
            continue
        for cand in (f.name, *f.aliases):
            if _norm(cand) in by_norm:
                out[f.name] = by_norm[_norm(cand)]
                break
    missing = [f.name for f in fields if f.required and f.name not in out]
    if missing:
        raise LoadError(issue(table.path, "", "table.columns", missing=missing,
                              found=list(table.columns)))
    return out


def parse_date(value) -> date:
    text = str(value).strip()
    if re.fullmatch(r"\d{4}", text):
        return date(int(text), 7, 1)
    if re.fullmatch(r"\d{4}\.0", text):
        return date(int(text[:4]), 7, 1)
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def convert(value, f: Field):
    if f.type == "text":
        return str(value)
    if f.type == "int":
        number = float(value)
        if not number.is_integer():
            raise ValueError(value)
        return int(number)
    if f.type == "float":
        number = float(value)
        if number != number:  # NaN
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
