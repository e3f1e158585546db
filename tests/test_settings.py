"""`ecorest run --set`: every value is checked against a typed schema before it reaches SQL."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

from ecorest.cli import cli
from ecorest.errors import LoadError
from ecorest.run import check_settings
from ecorest.store import run_settings


def test_every_default_passes_its_schema() -> None:
    defaults = dict(run_settings.defaults())
    settable = {k: v for k, v in defaults.items() if k not in run_settings.RESERVED}
    assert set(run_settings.SCHEMA) <= set(defaults)
    check_settings(dict(settable))


@pytest.mark.parametrize("key,value,expect", [
    # the injection class: text where a list of numbers goes
    ("fixed_breaks_3", "0.2,0.4); drop table x; --", "fixed_breaks_3 must be a list of 2"),
    ("fixed_breaks_3", "0.2,0.4]::float8[]; copy x to program 'id'; --", "fixed_breaks_3"),
    ("fixed_breaks_5", ["0.2", "0.4", "0.6", "0.8) or (1=1"], "not all items are numbers"),
    ("fixed_breaks_3", [0.2, 0.4, 0.6], "got 3 items"),
    ("fixed_breaks_5", [0.2, 0.4], "got 2 items"),
    ("fixed_breaks_3", [], "got 0 items"),
    ("fixed_breaks_3", [0.6, 0.4], "not increasing"),
    ("fixed_breaks_3", [0.4, 0.4], "not increasing"),
    ("fixed_breaks_5", [0.2, 0.4, 0.6, 1.5], "out of range"),
    ("fixed_breaks_3", [0.2, float("nan")], "not all items are numbers"),
    ("fixed_breaks_3", 0.5, "fixed_breaks_3 must be a list"),
    # numbers
    ("mc_draws", 2_000_000_000, "mc_draws must be a whole number in [100, 1,000,000]"),
    ("mc_draws", 10, "mc_draws must be a whole number"),
    ("mc_draws", 500.5, "whole number"),
    ("mc_draws", "5000; drop table x", "mc_draws"),
    ("mc_seed", -1, "mc_seed"),
    ("trend_alpha", 0, "trend_alpha must be a number in (0, 1)"),
    ("trend_alpha", True, "trend_alpha"),
    ("weight_alpha", float("inf"), "weight_alpha"),
    ("weight_alpha", "0.5); select pg_sleep(100); --", "weight_alpha"),
    ("cv_folds", 1, "cv_folds"),
    ("baseline_ring_m", [1000], "baseline_ring_m"),
    ("degradation_share", None, "degradation_share"),
    # choices
    ("weight_method", "ahp' or '1'='1", "weight_method must be one of explicit, ahp"),
    ("grading_method", 3, "grading_method must be one of"),
    ("project_baseline", ["ring"], "project_baseline"),
])
def test_bad_values_are_refused_naming_the_setting(key: str, value, expect: str) -> None:
    with pytest.raises(LoadError, match=rf"setting {key}=") as info:
        check_settings({key: value})
    assert expect in str(info.value)
    assert "default" in str(info.value)


@pytest.mark.parametrize("key", ["run_id", "region_id", "ipcc_edition", "no_such_thing",
                                 "mc_draws; drop table x"])
def test_unknown_and_reserved_settings_are_refused(key: str) -> None:
    with pytest.raises(LoadError, match="not a model setting"):
        check_settings({key: 1})


def test_good_values_are_normalised() -> None:
    values = {"fixed_breaks_3": "0.25, 0.75", "fixed_breaks_5": [0.1, 0.3, 0.5, 0.7],
              "mc_draws": 1_000_000, "mc_seed": 7.0, "trend_alpha": "0.01",
              "grading_method": "quantile", "min_patch_ha": 0}
    check_settings(values)
    assert values == {"fixed_breaks_3": [0.25, 0.75], "fixed_breaks_5": [0.1, 0.3, 0.5, 0.7],
                      "mc_draws": 1_000_000, "mc_seed": 7, "trend_alpha": 0.01,
                      "grading_method": "quantile", "min_patch_ha": 0}
    assert type(values["mc_seed"]) is int


def test_cli_refuses_the_payload_before_anything_runs(db_url: str) -> None:
    """The payload of the report: refused with exit 1, no run recorded, the table still there."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("create table public.x (i int)")
    for setting in ('fixed_breaks_3=0.2,0.4); drop table x; --',
                    "fixed_breaks_3=[0.2, 0.4, 0.6]", "fixed_breaks_5=[a, b, c, d]",
                    "mc_draws=2000000000"):
        result = CliRunner().invoke(cli, ["--dsn", db_url, "run", "anywhere", "--set", setting])
        assert result.exit_code == 1, result.output
        key = setting.split("=")[0]
        assert f"setting {key}=" in result.output and "must be" in result.output, result.output
    with psycopg.connect(db_url) as conn:
        assert conn.execute("select count(*) from etl.assessment_runs").fetchone() == (0,)
        assert conn.execute("select to_regclass('public.x') is not null").fetchone() == (True,)
