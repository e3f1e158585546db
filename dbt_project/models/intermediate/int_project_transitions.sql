-- pixels per (period, project, inside/ring, class at t1, class at t2), summed over the
-- project trajectories (int_project_trajectories); only pixels valid in both epochs
{{ transitions_from_trajectories(ref('int_project_trajectories'),
                                 ['project_version_id', 'area_kind']) }}
