-- 5S audits may be scheduled (with a due date, for the sweeper that marks missed audits)
-- and missed.
alter table audits drop constraint audits_status_check;
alter table audits add constraint audits_status_check
    check (status in ('SCHEDULED', 'IN_PROGRESS', 'SUBMITTED', 'CANCELLED', 'MISSED'));
alter table audits add column due_at timestamptz;
create index audits_scheduled_by_due on audits (org_id, due_at) where status = 'SCHEDULED';

-- Red-tagged items (5S Sort): where each hold ends, for the sweeper that expires holds.
create table red_tag_items (
    org_id     uuid        not null,
    red_tag_id uuid        not null,
    zone_id    uuid        not null,
    hold_until timestamptz not null,
    status     text        not null check (status in ('HELD', 'HOLD_EXPIRED', 'DISPOSITIONED')),
    primary key (org_id, red_tag_id)
);

create index red_tag_items_held_by_end on red_tag_items (org_id, hold_until) where status = 'HELD';

alter table red_tag_items enable row level security;
alter table red_tag_items force row level security;
create policy tenant_isolation on red_tag_items using (org_id = gemba_current_org())
    with check (org_id = gemba_current_org());
grant select, insert, update on red_tag_items to gemba_app;
