"""Write docs/DATA_DICTIONARY.md from the dbt documentation (the models' YAML files): every
mart and bi view with its description and columns. Run after changing a model's docs:

    python scripts/data_dictionary.py            # rewrites docs/DATA_DICTIONARY.md
    python scripts/data_dictionary.py --check    # exit 1 when the file is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "dbt_project" / "models"
OUT = ROOT / "docs" / "DATA_DICTIONARY.md"


def models(folder: str) -> list[dict]:
    out = []
    for f in sorted((MODELS / folder).glob("_*.yml")):
        out += yaml.safe_load(f.read_text()).get("models", [])
    return sorted(out, key=lambda m: m["name"])


def render() -> str:
    marts = {m["name"]: m for m in models("marts")}
    lines = ["# Data dictionary", "",
             "Generated from the dbt documentation (`dbt_project/models/*/_*.yml`) by "
             "`python scripts/data_dictionary.py`; the same text is stored as table and column "
             "comments in the database. Marts are keyed by `run_id`; every `bi` view has the "
             "mart's columns plus `region_name` and shows the latest succeeded run of each "
             "region (`*_by_run` views: every succeeded run).", ""]
    lines += ["## marts", ""]
    for name, m in marts.items():
        lines += [f"### marts.{name}", "", " ".join(str(m.get("description", "")).split()), "",
                  "| column | description |", "|---|---|"]
        for c in m.get("columns", []):
            desc = " ".join(str(c.get("description", "")).split()).replace("|", "\\|")
            lines.append(f"| `{c['name']}` | {desc} |")
        lines.append("")
    lines += ["## bi views", "", "| view | description |", "|---|---|"]
    for m in models("bi"):
        view = m["name"].removeprefix("bi_")
        lines.append(f"| `bi.{view}` | {' '.join(str(m.get('description', '')).split())} |")
    runs = next(m for m in models("bi") if m["name"] == "bi_runs")
    lines += ["", "### bi.runs", "", "| column | description |", "|---|---|"]
    lines += [f"| `{c['name']}` | {c['description']} |" for c in runs["columns"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is out of date: run python scripts/data_dictionary.py")
            sys.exit(1)
    else:
        OUT.write_text(text)
        print(f"wrote {OUT}")
