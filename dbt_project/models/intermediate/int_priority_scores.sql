-- degradation, importance and composite scores (0..1) per pixel, before grading
-- (bands 2 composite, 3 degradation, 4 importance of raster.np_overlay)
{{ priority_overlay(with_breaks=false) }}
