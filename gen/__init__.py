"""gen: turn a dbt project's manifest into a ready-to-push Digdag project."""

__version__ = "0.1.0"
