-- Kaizens as the write side needs them across aggregates: which zone, which status (a zone
-- is archived only once its open defects and kaizens are finished or transferred).
create table kaizens (
    org_id    uuid not null,
    kaizen_id uuid not null,
    zone_id   uuid not null,
    status    text not null,
    primary key (org_id, kaizen_id)
);

create index kaizens_by_zone on kaizens (org_id, zone_id);
create index defects_by_zone on defects (org_id, zone_id);

alter table kaizens enable row level security;
alter table kaizens force row level security;
create policy tenant_isolation on kaizens using (org_id = gemba_current_org()) with check (org_id = gemba_current_org());
grant select, insert, update on kaizens to gemba_app;
