"""ecorest reporting: assessment report and exports, read from the marts."""
