-- Grid CRSs that have no EPSG code, registered under the ECOREST authority (idempotent).
-- 990001: CGCS2000 / Albers equal-area conic for China (standard parallels 25°N and 47°N,
-- central meridian 105°E) — the projection of CLCD and of most national land-cover products.
insert into spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)
values (
  990001, 'ECOREST', 990001,
  'PROJCS["CGCS2000 / Albers China",GEOGCS["China Geodetic Coordinate System 2000",'
  || 'DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101,AUTHORITY["EPSG","1024"]],'
  || 'AUTHORITY["EPSG","1043"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
  || 'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4490"]],'
  || 'PROJECTION["Albers_Conic_Equal_Area"],PARAMETER["latitude_of_center",0],'
  || 'PARAMETER["longitude_of_center",105],PARAMETER["standard_parallel_1",25],'
  || 'PARAMETER["standard_parallel_2",47],PARAMETER["false_easting",0],'
  || 'PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]],'
  || 'AXIS["Easting",EAST],AXIS["Northing",NORTH]]',
  '+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs'
)
on conflict (srid) do update
  set auth_name = excluded.auth_name, auth_srid = excluded.auth_srid,
      srtext = excluded.srtext, proj4text = excluded.proj4text;
