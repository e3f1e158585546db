"""Built-in land-cover legends (CSV)."""
