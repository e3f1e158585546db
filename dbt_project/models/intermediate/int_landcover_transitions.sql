-- pixels per (period, zone, class at t1, class at t2) for consecutive land-cover epochs,
-- summed over the land-cover trajectories (int_landcover_trajectories); only pixels valid in
-- both epochs take part
{{ transitions_from_trajectories(ref('int_landcover_trajectories'), ['zone_set', 'zone_id']) }}
