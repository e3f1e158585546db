"""``ecorest run``: one recorded assessment run of a region."""

from __future__ import annotations

import click
import yaml
from rich.text import Text

from ecorest.settings import Settings
from ecorest.store import db as dbmod
from ecorest.vocab import DEFAULT_IPCC_EDITION, IPCC_EDITIONS

from ._common import ResultTable, command, console, more_caption, out, result_table


@command(None, "run")
@click.argument("region_name", metavar="REGION")
@click.option("--ipcc-edition", type=click.Choice(IPCC_EDITIONS), default=DEFAULT_IPCC_EDITION,
              show_default=True,
              help="IPCC guidance edition of default factors (stored with every result).")
@click.option("--force", is_flag=True,
              help="Rebuild even when the last run used the same inputs and models.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a model setting of the dbt project for this run, e.g. "
                   "--set grading_method=quantile --set project_baseline=no_change "
                   "(repeatable; stored with the run).")
@click.option("--params", "pins", multiple=True, metavar="NAME[@VERSION]",
              callback=lambda _ctx, _param, value: check_pins(value),
              help="Use this parameter set for this run, whatever is active: the region's own "
                   "set of that name, else the global one; without @VERSION its newest version "
                   "(repeatable, one set per kind; stored with the run).")
def run_cmd(settings: Settings, region_name: str, ipcc_edition: str, force: bool,
            overrides: tuple[str, ...], pins: tuple[str, ...]) -> None:
    """Build the models for REGION (dbt build) as one recorded assessment run.

    Results go to the marts, keyed by the run id: carbon (carbon_stocks, carbon_stock_changes,
    landcover_transitions, project_benefits, carbon_uncertainty, plot_validation,
    parameter_lineage) and identification (priority_tiles, zone_scores, restoration_patches,
    ndvi_trends, factor_summaries, identification_accuracy). A failed run is recorded as
    failed and leaves earlier results in place.

    Parameter sets: per kind, the set pinned with --params, else the region's active set, else
    an active global set, else IPCC defaults where the kind has them (marts.parameter_lineage
    says which and why).
    """
    from ecorest.report import summary
    from ecorest.run import run_assessment

    url = dbmod.resolve_url(settings)
    with dbmod.session(settings) as conn:
        try:
            run_id = run_assessment(conn, url, region_name, work_dir=settings.home / "dbt",
                                    ipcc_edition=ipcc_edition, force=force,
                                    dbt_vars=parse_overrides(overrides), params=list(pins))
        except KeyboardInterrupt:
            # Ctrl-C: the run is recorded failed, its rows removed, its server work stopped
            console.print(Text.assemble(("error:", "bold red"), " cancelled by the user: the "
                                        "run is marked failed, its partial results removed and "
                                        "its work on the server stopped"), soft_wrap=True)
            raise click.exceptions.Exit(130) from None
        totals = summary.stock_totals(conn, run_id)
        grades = grade_table(conn, run_id, region_name)
    out.print(f"assessment run {run_id} of {region_name}: succeeded")
    for row in totals:
        out.print(f"  carbon stock {row['epoch_label']}: {row['carbon_t']:,} t C")
    if grades is not None:
        out.print(grades)


def check_pins(items: tuple[str, ...]) -> tuple[str, ...]:
    """NAME[@VERSION] items of --params (whether the sets exist is checked by the run)."""
    from ecorest.errors import LoadError
    from ecorest.run import parse_pin

    for item in items:
        try:
            parse_pin(item)
        except LoadError as exc:
            raise click.BadParameter(str(exc).removeprefix(f"--params {item!r}: "),
                                     param_hint="--params") from exc
    return items


def parse_overrides(items: tuple[str, ...]) -> dict:
    """KEY=VALUE pairs; values are read as YAML (numbers, lists, text)."""
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--set")
        try:
            result[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise click.BadParameter(f"{item!r}: the value is not a number, a list or text "
                                     f"({' '.join(str(exc).split())})",
                                     param_hint="--set") from exc
    return result


#: zones shown by ``ecorest run`` and the demo (the rest: "+N more zones")
MAX_ZONES = 12


def grade_table(conn, run_id: int, region_name: str) -> ResultTable | None:
    """Restoration priority of a run by zone (the region and every zone set), for the console:
    area by grade (ha, right-aligned) and the factors contributing most; fits 80 columns."""
    from ecorest.report import summary

    rows = summary.priority_by_zone(conn, run_id, limit=10_000)
    if not rows:
        return None
    patches = summary.patch_totals(conn, run_id)
    shown = rows[:MAX_ZONES]
    labels = []
    for r in shown:
        name = r["zone_name"]
        labels.append(name if r["zone_set"] == "region" else
                      f"{r['zone_set']} {r['zone_code']} "
                      f"{name if name != r['zone_code'] else ''}".strip())
    # the factors that contribute most, once per combination, with the zones that have it
    # (a column of factor names would not fit 80 columns beside six areas)
    by_factors: dict[str, list[str]] = {}
    for r, label in zip(shown, labels, strict=True):
        by_factors.setdefault(r["top_factors"] or "none", []).append(label)
    notes = ["ha by grade: 1 priority restoration, 2 restoration, 3 improvement, "
             "4 protection, 5 general",
             "top factors: " + "; ".join(f"{f} ({', '.join(z)})"
                                        for f, z in by_factors.items()),
             more_caption(len(shown), len(rows), "zones", "marts.zone_scores, bi.zone_scores")]
    table = result_table(
        f"{region_name}: restoration priority by zone (run {run_id}; {patches['patches']:,} "
        f"patches, {patches['area_ha']:,.0f} ha)",
        ["zone", "assessed", "1", "2", "3", "4", "5"],
        numeric=["assessed", "1", "2", "3", "4", "5"],
        caption="\n".join(n for n in notes if n))
    areas = ("assessed_ha", "priority_restoration_ha", "restoration_ha", "improvement_ha",
             "protection_ha", "general_ha")
    for r, label in zip(shown, labels, strict=True):
        table.add_row(label, *(f"{r[a]:,.0f}" for a in areas))
    return table
