-- invariant: change = stock at t2 - stock at t1, and the region's t1 stock over pixels valid in
-- both epochs never exceeds its full t1 stock
select *
from {{ ref('carbon_stock_changes') }}
where run_id = {{ var('run_id') }}
  and abs(change_t - (stock_t2_t - stock_t1_t)) > 1e-6 * greatest(1, abs(stock_t1_t))
