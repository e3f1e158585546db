-- the yearly vegetation signal of the benefit against matched controls: the layer named by
-- var vegetation_signal (auto: the first of ndvi, evi, fvc, gpp, npp the run pinned; none: no
-- signal), one row per observed epoch of it with its year, scale, offset and units. gpp and
-- npp are carbon fluxes (kg C/m2/yr): their sink rate is the flux itself
with cat as (
    select c.catalog_id, c.layer, c.epoch_date, extract(year from c.epoch_date)::int as epoch_year,
           c.scale_factor, c.add_offset, c.units
    from {{ source('raster', 'catalog') }} as c
    join {{ source('etl', 'assessment_runs') }} as a
        on a.run_id = {{ var('run_id') }} and c.catalog_id = any(a.input_catalog_ids)
    where c.region_id = {{ var('region_id') }}
      and c.layer in ('ndvi', 'evi', 'fvc', 'gpp', 'npp')
      and c.epoch_date <= current_date
),

chosen as (
    select layer from cat
    {% if var('vegetation_signal') == 'auto' %}
    order by array_position(array['ndvi', 'evi', 'fvc', 'gpp', 'npp'], layer)
    {% else %}
    where layer = '{{ var("vegetation_signal") }}'
    {% endif %}
    limit 1
)

select cat.*, cat.layer in ('gpp', 'npp') as is_flux
from cat
join chosen on chosen.layer = cat.layer
