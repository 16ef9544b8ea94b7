"""SQL forensics over captures (DuckDB): not built yet."""
