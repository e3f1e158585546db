"""The SQL files as the migration applies them: kernel helpers inlined into the kernels.

The PL/Python kernels share helpers (raster WKB decode/encode, the cancellation point, ...)
that a loader function (``raster.np_kernels_loaded()`` and the other ``np_*_loaded()``) puts in
GD. A kernel that fetched them with ``plpy.execute('select raster.np_kernels_loaded()')`` could
not run in PostgreSQL's parallel workers: they start with an empty GD and refuse SPI. So each
such call is replaced here, before the file is applied, by the loader's own body, run once per
process (the loader's ``if ... in GD: return True`` guard still holds). The loader functions
themselves stay defined and callable.
"""

from __future__ import annotations

import re
import textwrap

#: a loader: ``create or replace function S.np_X_loaded() returns boolean
#: language plpython3u as $$ BODY $$;``
LOADER = re.compile(r"create or replace function (\w+)\.(np_\w+_loaded)\(\) returns boolean\s+"
                    r"language plpython3u as \$\$\n(.*?)\$\$;", re.S)
CALL = re.compile(r"plpy\.execute\('select (\w+)\.(np_\w+_loaded)\(\)'\)")


def inline_loaders(texts: list[str]) -> list[str]:
    """The texts with every loader call replaced by the loader's body (loaders found in any of
    the texts; a loader that calls another gets that one inlined too)."""
    bodies = {f"{m[1]}.{m[2]}": m[3] for text in texts for m in LOADER.finditer(text)}

    def inlined(match: re.Match, seen: tuple[str, ...] = ()) -> str:
        name = f"{match[1]}.{match[2]}"
        if name not in bodies:
            raise ValueError(f"kernel helper loader {name}() is called but defined in no SQL file")
        if name in seen:
            raise ValueError(f"kernel helper loaders call each other in a cycle: {seen}")
        body = CALL.sub(lambda m: inlined(m, (*seen, name)), bodies[name])
        source = "def _load():\n" + textwrap.indent(body, "    ") + "\n_load()\n"
        # one line, so that it takes the place of the call at the call's indentation
        return f"exec(compile({source!r}, {name!r}, 'exec'), {{'GD': GD, 'plpy': plpy}})"

    return [CALL.sub(inlined, text) for text in texts]
