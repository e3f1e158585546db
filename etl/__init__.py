"""ecorest pipeline: settings, embedded PostGIS cluster, loaders, dbt runner and CLI."""
