"""python -m ecorest: the command line."""

from ecorest.cli import main

main()
