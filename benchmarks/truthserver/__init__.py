"""The truth server: streams tokens on an exact schedule and records when it really sent them."""
