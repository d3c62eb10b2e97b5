"""`python -m gen` runs the command line."""

from gen.cli import main

main()
