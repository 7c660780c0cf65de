-- Plant structure and membership details: areas (area, line, cell) of a site, zones placed
-- in areas with a headcount and an audit plan, and members' site scope, home zone, profile
-- and suspension.

create table areas (
    org_id         uuid not null,
    area_id        uuid not null,
    site_id        uuid not null,
    kind           text not null check (kind in ('area', 'line', 'cell')),
    parent_area_id uuid,
    code           text not null,
    name           text not null,
    status         text not null check (status in ('ACTIVE', 'ARCHIVED')),
    primary key (org_id, area_id),
    constraint areas_code_key unique (org_id, site_id, code),
    foreign key (org_id, site_id) references sites (org_id, site_id),
    foreign key (org_id, parent_area_id) references areas (org_id, area_id)
);

create index areas_by_parent on areas (org_id, parent_area_id) where parent_area_id is not null;

alter table zones
    add column area_id    uuid,
    add column headcount  integer check (headcount >= 0),
    add column audit_plan jsonb,
    add foreign key (org_id, area_id) references areas (org_id, area_id);

create index zones_by_area on zones (org_id, area_id) where area_id is not null;

-- A suspended member is not active: the deferred triggers members_keep_an_owner (an active
-- owner remains) and members_own_no_zone_when_inactive (no active zone owned by an inactive
-- member) compare status with 'ACTIVE', so they hold for suspension as they do for removal.
alter table members drop constraint members_status_check;
alter table members
    add constraint members_status_check check (status in ('INVITED', 'ACTIVE', 'SUSPENDED', 'REMOVED')),
    add column site_scope      uuid[],  -- null: every site
    add column home_zone_id    uuid,
    add column employee_number jsonb,   -- sealed
    add column shift           text;

alter table areas enable row level security;
alter table areas force row level security;
create policy tenant_isolation on areas using (org_id = gemba_current_org()) with check (org_id = gemba_current_org());

grant select, insert, update on areas to gemba_app;
