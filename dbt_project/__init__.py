"""The dbt project: staging -> intermediate -> marts -> bi (shipped as ``ecorest.dbt_project``)."""
