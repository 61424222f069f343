"""Training outputs made from a run directory: report.html, postmortem.md, replay, listing and comparison."""
