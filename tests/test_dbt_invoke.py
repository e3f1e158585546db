"""The parse of the dbt project that a run's dbt calls share (ecorest.dbt_invoke.parsed_project):
kept across runs only when nothing but the run id differs, each call's copy its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from ecorest import dbt_invoke
from ecorest.run import models_sha256


@pytest.fixture
def parses(monkeypatch) -> list[dict]:
    """The variables of every parse dbt is asked for, with an empty cache to start from."""
    seen: list[dict] = []
    invoke = dbt_invoke._invoke

    def counting(args, *a, **k):
        if args[0] == "parse":
            seen.append(args[args.index("--vars") + 1])
        return invoke(args, *a, **k)

    monkeypatch.setattr(dbt_invoke, "_invoke", counting)
    monkeypatch.setattr(dbt_invoke, "_PARSED", {})
    return seen


def test_one_parse_serves_runs_that_differ_only_in_their_id(db_url: str, empty_db_url: str,
                                                            tmp_path: Path,
                                                            parses: list[dict]) -> None:
    digest = models_sha256()
    one = dbt_invoke.parsed_project(db_url, {"run_id": 1, "region_id": 1}, tmp_path, digest)
    two = dbt_invoke.parsed_project(db_url, {"run_id": 2, "region_id": 1}, tmp_path, digest)
    assert len(parses) == 1
    # each call its own copy: dbt writes the compiled SQL of every node it runs into it
    node = "model.ecorest.int_factor_tiles"
    assert one is not two and one.nodes[node] is not two.nodes[node]
    one.nodes[node].compiled_code = "select 1"
    assert two.nodes[node].compiled_code != "select 1"
    # relations are named in the database of the URL
    here = conninfo_to_dict(db_url)["dbname"]
    assert one.nodes[node].database == here
    assert one.nodes[node].relation_name == f'"{here}"."intermediate"."int_factor_tiles"'

    # the same parse serves another database of the server, every relation named there
    there = conninfo_to_dict(empty_db_url)["dbname"]
    assert there != here
    moved = dbt_invoke.parsed_project(empty_db_url, {"run_id": 5, "region_id": 1}, tmp_path,
                                      digest)
    assert len(parses) == 1
    named = [n for n in (*moved.nodes.values(), *moved.sources.values())
             if getattr(n, "relation_name", None)]
    assert len(named) > 100
    assert all(n.database == there and n.relation_name.startswith(f'"{there}".')
               for n in named)
    assert moved.sources["source.ecorest.raster.tiles"].relation_name == \
        f'"{there}"."raster"."tiles"'
    assert one.nodes[node].database == here      # the other copy keeps its own

    # any other variable may change a model's configuration at parse time: parsed again
    other = dbt_invoke.parsed_project(
        db_url, {"run_id": 3, "region_id": 1, "derived_on_nodes": ["slope"]}, tmp_path, digest)
    assert len(parses) == 2
    assert other.nodes["model.ecorest.int_slope_tiles"].config.materialized == "view"
    assert one.nodes["model.ecorest.int_slope_tiles"].config.materialized != "view"
    # and so are changed project files
    dbt_invoke.parsed_project(db_url, {"run_id": 4, "region_id": 1}, tmp_path, "another digest")
    assert len(parses) == 3
