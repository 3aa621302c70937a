"""The bench: fixed-length runs, statistics, speculative telemetry and regimes."""
