-- the reference signal of every land-cover class: the mean of the vegetation signal over all
-- pixels of the class in each year (the class of a year: the latest observed land-cover epoch
-- <= the year, else the first) and all years of the signal, from the region's sums of
-- int_signal_sums. The anchored rule holds a class's density at this signal (docs/CARBON.md,
-- "Benefit against matched controls").
select class_code, sum(signal_pixels) as signal_pixels,
       sum(signal_sum) / nullif(sum(signal_pixels), 0) as reference_signal
from {{ ref('int_signal_sums') }}
where zone_set = 'region'
group by class_code
having sum(signal_pixels) > 0
