"""Console renderers: rich tables and lines for what the commands print (no options, no I/O
beyond the console they are given)."""
