"""outage-lab benchmarks: `make bench` (or `python -m bench`). Figures are printed and written as JSON, never
asserted: speed targets live here, not in tests."""
