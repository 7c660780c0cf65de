-- Indexes for the organisation and site roll-ups at scale (projections/src/scope_kpis.rs,
-- measured by `gemba-bench`, docs/benchmarks.md). Every roll-up statement walks the zones of
-- its scope and reads each zone's rows of the period through one of these, instead of
-- reading every row of the organisation.

-- Defects raised in a period, per zone.
create index defect_register_raised_by_zone on defect_register (org_id, zone_id, raised_at);

-- Defects closed in a period, per zone.
create index defect_register_closed_by_zone on defect_register (org_id, zone_id, closed_at)
    where status = 'CLOSED';

-- Audits due in a period, per zone (schedule adherence).
create index zone_5s_scores_due_by_zone on zone_5s_scores (org_id, zone_id, due_at)
    where due_at is not null;

-- Kaizens submitted in a period, per zone (ideas, participation, implementation rate).
create index kaizen_register_submitted_by_zone on kaizen_register (org_id, zone_id, submitted_at);
