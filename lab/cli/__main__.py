"""`python -m lab.cli`: the `lab` command."""

from lab.cli.app import entry

entry()
