# PostGIS with PL/Python and numpy (ecorest runs numpy tile kernels inside the server).
FROM postgis/postgis:15-3.4
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      "postgresql-plpython3-15=$(dpkg-query -W -f='${Version}' postgresql-15)" python3-numpy \
 && rm -rf /var/lib/apt/lists/*
