"""``ecorest params``: manage the versions of loaded parameter sets."""

from __future__ import annotations

import click

from ecorest.settings import Settings
from ecorest.store import db as dbmod

from ._common import CONTEXT, command, say


@click.group(context_settings=CONTEXT)
def params() -> None:
    """Parameter sets: choose which loaded version runs use by default.

    Loading a changed file makes it the next, active version; loading an earlier file again
    changes nothing. `ecorest params activate` goes back (or forward) to any loaded version.
    """


@command(params, "activate")
@click.argument("region_or_spec", metavar="[REGION] NAME[@VERSION]")
@click.argument("spec", required=False, metavar="")
@click.option("--global", "is_global", is_flag=True,
              help="Activate a global set (one every region may use) instead of a set of "
                   "REGION.")
def activate_cmd(settings: Settings, region_or_spec: str, spec: str | None,
                 is_global: bool) -> None:
    """Make version VERSION of parameter set NAME the active one (without @VERSION: its newest).

    As with `ecorest run REGION --params NAME[@VERSION]`, NAME is the region's own set of that
    name, else the global one; with --global only global sets are considered. The other versions
    of the name become inactive; runs of every region that uses the set take the active version
    unless a run pins another one. The change is recorded in etl.loads.

    \b
    Examples:
      ecorest params activate yanan yanan_pools@1
      ecorest params activate --global china_pools@2
    """
    from ecorest.etl.params import activate_params
    from ecorest.run import parse_pin

    ctx = click.get_current_context()
    if is_global and spec is not None:
        raise click.UsageError(f"--global takes NAME[@VERSION] only, not a REGION "
                               f"({region_or_spec!r})", ctx=ctx)
    if not is_global and spec is None:
        raise click.UsageError("give REGION NAME[@VERSION] (the region's set, else the global "
                               "one) or --global NAME[@VERSION]", ctx=ctx)
    region, pin = (None, region_or_spec) if is_global else (region_or_spec, spec)
    from ecorest.errors import LoadError

    try:
        parse_pin(pin)
    except LoadError as exc:
        raise click.BadParameter(str(exc).removeprefix(f"--params {pin!r}: "),
                                 param_hint="NAME[@VERSION]") from exc
    with dbmod.session(settings) as conn:
        r = activate_params(conn, pin, region=region)
    if r["changed"]:
        was = f"version {r['previous']}" if r["previous"] else "no active version"
        say(f"parameter set {r['name']} ({r['owner']}, kind {r['kind']}): version "
            f"{r['version']} is now active (was {was})")
    else:
        say(f"parameter set {r['name']} ({r['owner']}): version {r['version']} is the active "
            "version already, nothing changed")
