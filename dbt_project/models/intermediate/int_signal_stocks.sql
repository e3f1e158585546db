-- biomass carbon (agb + bgb) following the vegetation signal, per zone (the whole region as
-- zone_set 'region', and every zone set), signal year and class of that year: pixels, signal
-- sums, the biomass by the rule of docs/CARBON.md and the class-constant biomass, in t C/ha
-- summed over the pixels. The rule of a pixel (benefit.np_signal_loaded) is, with D the class's
-- density and S_ref its reference signal: D x S / S_ref where both are known; max(0, a + b x S)
-- x (1 + bgb/agb) where plots calibrate the class (a, b) and the pixel has a signal; D where
-- the pixel has no signal, or the class no reference. D and S_ref are constant in a class,
-- so a group's biomass follows from its sums (int_signal_sums): D / S_ref x signal_sum +
-- D x (pixels - signal_pixels), the calibrated sum x (1 + bgb/agb) + D x (pixels -
-- signal_pixels), or D x pixels. A class without density adds nothing; without any class
-- density the biomass is unknown (null).
with cb as (
    select * from {{ ref('int_class_biomass') }}
),

classes as (
    select u.class_code, coalesce(u.agb, 0) + coalesce(u.bgb, 0) as d, u.agb, u.bgb,
           u.reference_signal as sref,
           u.cal_intercept is not null and u.cal_slope is not null and coalesce(u.agb, 0) <> 0
               as calibrated
    from cb
    cross join lateral unnest(cb.codes, cb.agb, cb.bgb, cb.reference_signal, cb.cal_intercept,
                              cb.cal_slope)
        as u (class_code, agb, bgb, reference_signal, cal_intercept, cal_slope)
)

select s.zone_set, s.zone_id, s.year, s.class_code, s.pixels, s.signal_pixels, s.signal_sum,
       case
           when (select codes from cb) is null then null
           when c.calibrated
               then coalesce(s.calibrated_sum, 0) * (1 + coalesce(c.bgb, 0) / c.agb)
                    + c.d * (s.pixels - s.signal_pixels)
           when c.sref > 0
               then c.d / c.sref * s.signal_sum + c.d * (s.pixels - s.signal_pixels)
           else coalesce(c.d, 0) * s.pixels
       end as biomass_px_t_per_ha,
       case when (select codes from cb) is not null then coalesce(c.d, 0) * s.pixels end
           as class_px_t_per_ha
from {{ ref('int_signal_sums') }} as s
left join classes as c on c.class_code = s.class_code
