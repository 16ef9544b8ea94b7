"""The event table, flag names and the capture file format: the one source of truth."""
