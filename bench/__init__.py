"""Benchmarks of ecorest against plain numpy/rasterio baselines measured in the same run."""
