-- The sweeper: the system's periodic commands (escalating unacknowledged priority-A defects,
-- marking missed audits, expiring red-tag holds) need to know which organisations exist and,
-- inside each, what is due.

-- The directory of organisations: ids only, no customer data. It is the one table every
-- tenant may read in full (the sweeper, and later the projector, walk it); rows are only
-- ever added by an organisation's own creation.
create table org_directory (
    org_id     uuid        primary key,
    created_at timestamptz not null
);

alter table org_directory enable row level security;
alter table org_directory force row level security;
create policy directory_read on org_directory for select using (true);
create policy directory_insert on org_directory for insert with check (org_id = gemba_current_org());
grant select, insert on org_directory to gemba_app;

-- Organisations created before this migration: read as the owner with RLS not forced for the
-- length of this transaction (the lock taken by ALTER keeps every other session out).
alter table organizations no force row level security;
insert into org_directory (org_id, created_at) select org_id, created_at from organizations;
alter table organizations force row level security;

-- Defects as the write side needs them across aggregates: status, priority and escalation.
create table defects (
    org_id           uuid        not null,
    defect_id        uuid        not null,
    zone_id          uuid        not null,
    priority         text        not null check (priority in ('A', 'B', 'C')),
    status           text        not null,
    found_at         timestamptz not null,
    escalation_level integer     not null default 0,
    primary key (org_id, defect_id)
);

create index defects_open_priority_a on defects (org_id, found_at) where priority = 'A' and status = 'OPEN';

alter table defects enable row level security;
alter table defects force row level security;
create policy tenant_isolation on defects using (org_id = gemba_current_org()) with check (org_id = gemba_current_org());
grant select, insert, update on defects to gemba_app;
