"""srcip: which source address a Kubernetes pod sees for an external client, and why."""

__all__ = ["__version__"]

__version__ = "0.1.0"
