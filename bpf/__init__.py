"""The kernel side: C sources that BCC compiles at load time (package data)."""
