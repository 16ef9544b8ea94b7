"""scapula: record, replay and query what Linux processes do."""
__version__ = "0.1.0"
