"""Test doubles for what a real engine will not do on demand (faults, exact schedules)."""
