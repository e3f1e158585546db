{{ config(materialized='view') }}
-- degradation, importance and composite scores (0..1) per pixel, before grading
-- (bands 2 composite, 3 degradation, 4 importance of raster.np_overlay); a view: its only
-- reader, int_score_breaks, takes their histograms in one pass, and nothing is stored
{{ priority_overlay(with_breaks=false) }}
