"""`python -m servelab` is the same as the `servelab` command."""

from servelab.cli import main

main()
