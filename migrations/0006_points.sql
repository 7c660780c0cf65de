-- Points: awards are now kept by the registry from the PointsLedger events, with the entity
-- that earned them (`Type/id`) so reversals find them; adjustments are rows too. Rule sets
-- are published per organisation as immutable versions.
alter table points_awards add column source_ref text;
create index points_awards_by_source on points_awards (org_id, source_ref);
grant select, insert, update on points_awards to gemba_app;

create table points_rulesets (
    org_id       uuid        not null,
    version      integer     not null check (version > 0),
    rules        jsonb       not null,
    checksum     text        not null,
    published_at timestamptz not null,
    primary key (org_id, version)
);

alter table points_rulesets enable row level security;
alter table points_rulesets force row level security;
create policy tenant_isolation on points_rulesets using (org_id = gemba_current_org()) with check (org_id = gemba_current_org());
grant select, insert on points_rulesets to gemba_app;
