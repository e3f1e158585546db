"""Compare the marts of two ecorest databases (e.g. the demo run by two versions of the code).

    python scripts/compare_marts.py HOME_A HOME_B [--rel 1e-9]

HOME_A, HOME_B: data folders of embedded clusters (ECOREST_HOME) or PostgreSQL URLs. For every
table of schema marts, per region (by name): the number of rows, and per numeric column the
sum over the region's latest succeeded run, compared with a relative tolerance (floating-point
sums differ in their last digits when the order of summation changes). Ids, run ids and
timestamps are left out. Exit status 1 when anything differs.
"""

from __future__ import annotations

import argparse
import math
import sys

import psycopg
from psycopg import sql

SKIP = ("run_id", "created_at", "computed_at", "loaded_at", "finished_at", "started_at")


def connect(where: str):
    """A connection (context manager) to a URL or to the embedded cluster of a data folder."""
    if "://" in where or "=" in where:
        return psycopg.connect(where)
    from ecorest.settings import Settings
    from ecorest.store import db as dbmod

    return dbmod.session(Settings.from_env(home=where))


def summary(conn: psycopg.Connection) -> dict:
    out = {}
    runs = dict(conn.execute(
        "select r.name, max(a.run_id) from etl.assessment_runs as a "
        "join registry.regions as r using (region_id) where a.status = 'succeeded' "
        "group by r.name").fetchall())
    tables = [r[0] for r in conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'marts' and c.relkind = 'r' order by 1")]
    for table in tables:
        cols = conn.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = %s order by ordinal_position",
            (table,)).fetchall()
        if "run_id" not in [c for c, _ in cols]:
            continue
        numeric = [c for c, t in cols if t in ("bigint", "integer", "double precision",
                                               "numeric", "real", "smallint")
                   and c not in SKIP and not c.endswith("_id")]
        for region, run_id in runs.items():
            q = sql.SQL("select count(*){} from marts.{} where run_id = %s").format(
                sql.SQL("").join(sql.SQL(", sum({}::float8)").format(sql.Identifier(c))
                                 for c in numeric), sql.Identifier(table))
            row = conn.execute(q, (run_id,)).fetchone()
            out[(table, region, "rows")] = row[0]
            for c, v in zip(numeric, row[1:], strict=True):
                out[(table, region, c)] = v
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rel", type=float, default=1e-9, help="Relative tolerance of the sums.")
    args = ap.parse_args()
    with connect(args.a) as ca, connect(args.b) as cb:
        sa, sb = summary(ca), summary(cb)
    bad = 0
    for key in sorted(set(sa) | set(sb), key=str):
        va, vb = sa.get(key), sb.get(key)
        same = (va == vb if va is None or vb is None
                else math.isclose(va, vb, rel_tol=args.rel, abs_tol=1e-9))
        if not same:
            bad += 1
            print(f"DIFFERS {'.'.join(key)}: {va} vs {vb}")
    tables = len({k[0] for k in sa})
    print(f"{len(sa)} figures of {tables} marts compared; {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
