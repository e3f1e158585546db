{# the run's rows whose interval [lower, upper] is out of order or leaves out the estimate
   (rows without an interval, i.e. an unquantified factor, are not checked) #}
{% test interval_contains(model, estimate, lower, upper) %}
select *
from {{ model }}
where run_id = {{ var('run_id') }}
  and {{ lower }} is not null
  and ({{ lower }} > {{ upper }}
       or {{ lower }} > {{ estimate }} + 1e-9 * greatest(abs({{ estimate }}), 1)
       or {{ upper }} < {{ estimate }} - 1e-9 * greatest(abs({{ estimate }}), 1))
{% endtest %}
