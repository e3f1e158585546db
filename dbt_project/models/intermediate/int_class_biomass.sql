-- per class: agb and bgb densities (t C/ha), the reference signal (int_signal_reference) and,
-- where plots calibrate the class's ecosystem type (int_signal_calibration), agb = intercept +
-- slope x signal: what the biomass-following-the-signal rule needs, as arrays aligned by class
select array_agg(b.class_code order by b.class_code) as codes,
       array_agg(b.agb order by b.class_code) as agb,
       array_agg(b.bgb order by b.class_code) as bgb,
       array_agg(r.reference_signal order by b.class_code) as reference_signal,
       array_agg(k.intercept order by b.class_code) as cal_intercept,
       array_agg(k.slope order by b.class_code) as cal_slope
from (
    select class_code,
           coalesce(sum(carbon_t_per_ha) filter (where pool = 'agb'), 0) as agb,
           coalesce(sum(carbon_t_per_ha) filter (where pool = 'bgb'), 0) as bgb
    from {{ ref('int_carbon_densities') }}
    where pool in ('agb', 'bgb')
    group by class_code
) as b
left join {{ ref('int_signal_reference') }} as r on r.class_code = b.class_code
left join {{ ref('int_landcover_classes') }} as c on c.class_code = b.class_code
left join {{ ref('int_signal_calibration') }} as k on k.ecosystem_type = c.ecosystem_type
