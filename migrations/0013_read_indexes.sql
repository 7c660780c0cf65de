-- Indexes for the dashboard's reads at scale (measured by `gemba-bench`, docs/benchmarks.md).
--
-- Open defects: the roll-up's open-defect statement (`status not in ('CLOSED', 'CANCELLED')`
-- per zone of the scope) read every register row of each zone through
-- defect_register_by_zone_status and filtered them; open defects are a small, recent share
-- of the register, so a partial index holds only them.
create index defect_register_open_by_zone on defect_register (org_id, zone_id)
    where status not in ('CLOSED', 'CANCELLED');

-- Live points in a window: the member leaderboard sums an organisation's awards earned in
-- the window (it read every award of the organisation through points_awards_by_member), and
-- the zone board sums each member's awards in the window.
create index points_awards_live_by_earned on points_awards (org_id, earned_at) include (member_id, points)
    where not reversed;
create index points_awards_live_by_member on points_awards (org_id, member_id, earned_at) include (points)
    where not reversed;
