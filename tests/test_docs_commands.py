"""Every `ecorest …` command line written in the README and docs/ names a command and options
that exist."""

from __future__ import annotations

import re
import shlex

import click
import pytest

from ecorest.cli import cli
from helpers import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _command_lines() -> list[tuple[str, int, str]]:
    out = []
    for doc in DOCS:
        in_code = False
        for no, line in enumerate(doc.read_text().splitlines(), 1):
            if line.startswith("```"):
                in_code = not in_code
                continue
            candidates = [line.strip()] if in_code else re.findall(r"`(ecorest [^`]+)`", line)
            for c in candidates:
                if c.startswith("ecorest ") and not c.startswith("ecorest_"):
                    out.append((doc.name, no, c))
    return out


LINES = _command_lines()


def test_the_docs_hold_command_lines() -> None:
    assert len(LINES) > 20


@pytest.mark.parametrize("doc,no,line", LINES, ids=[f"{d}:{n}" for d, n, _ in LINES])
def test_documented_command_exists(doc: str, no: int, line: str) -> None:
    text = line.split("  ")[0].rstrip("\\").replace("…", "").replace("...", "")
    words = shlex.split(text, comments=True, posix=False)[1:]
    cmd: click.Command = cli
    options = {"--help", "-h"} | {o for p in cli.params for o in p.opts}
    while words and isinstance(cmd, click.Group):
        word = words[0]
        if word.startswith("-") or not re.fullmatch(r"[a-z][a-z|-]*", word):
            break
        names = [w for w in re.split(r"\|", word) if w]
        assert all(n in cmd.commands for n in names), f"{doc}:{no}: no command {word!r}: {line}"
        cmd = cmd.commands[names[0]]
        words = words[1:]
    options |= {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
    for word in (w.strip("[](){}.,;") for w in words):
        if word.startswith("--") or re.fullmatch(r"-[a-z]", word):
            option = word.split("=")[0]
            assert option in options, f"{doc}:{no}: {cmd.name} has no {option}: {line}"
