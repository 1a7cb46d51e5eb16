"""Coverage-guided fuzz targets (atheris); each runs as ``python -m tests.fuzz.<name>``."""
