"""outage-lab: re-live a real outage on a local Docker Compose stack."""

__version__ = "0.1.0"
