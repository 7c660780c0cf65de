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

-- At commit, no area is its own ancestor and every parent lies in the child's site, whichever
-- of two concurrent moves committed last (appends of one organisation are serialised).
create function areas_form_a_tree() returns trigger
    language plpgsql
    as $$
declare
    cursor_id uuid := new.parent_area_id;
    steps     int  := 0;
begin
    if new.parent_area_id is not null
       and not exists (select 1 from areas where org_id = new.org_id and area_id = new.parent_area_id
                                              and site_id = new.site_id) then
        raise exception 'area % would have a parent in another site', new.area_id
            using errcode = 'check_violation', constraint = 'areas_form_a_tree';
    end if;
    while cursor_id is not null loop
        if cursor_id = new.area_id or steps > 10000 then
            raise exception 'area % would be its own ancestor', new.area_id
                using errcode = 'check_violation', constraint = 'areas_form_a_tree';
        end if;
        select parent_area_id into cursor_id from areas where org_id = new.org_id and area_id = cursor_id;
        steps := steps + 1;
    end loop;
    return null;
end
$$;

create constraint trigger areas_form_a_tree after insert or update on areas
    deferrable initially deferred
    for each row execute function areas_form_a_tree();

-- At commit, the owner of every active zone works in the zone's site, whichever of two
-- concurrent commands (assign an owner, narrow a site scope) committed last.
create function zones_owned_within_site_scope() returns trigger
    language plpgsql
    as $$
begin
    if tg_table_name = 'zones' then
        if new.status = 'ACTIVE' and new.owner_member_id is not null
           and exists (select 1 from members m
                        where m.org_id = new.org_id and m.member_id = new.owner_member_id
                          and m.site_scope is not null and not (new.site_id = any(m.site_scope))) then
            raise exception 'zone % would be owned by a member outside its site', new.zone_id
                using errcode = 'check_violation', constraint = 'zones_owned_within_site_scope';
        end if;
    elsif new.site_scope is not null
          and exists (select 1 from zones z
                       where z.org_id = new.org_id and z.owner_member_id = new.member_id and z.status = 'ACTIVE'
                         and not (z.site_id = any(new.site_scope))) then
        raise exception 'member % owns active zones outside their site scope', new.member_id
            using errcode = 'check_violation', constraint = 'zones_owned_within_site_scope';
    end if;
    return null;
end
$$;

create constraint trigger zones_owned_within_site_scope after insert or update on zones
    deferrable initially deferred
    for each row execute function zones_owned_within_site_scope();

create constraint trigger members_scope_keeps_owned_zones after update of site_scope on members
    deferrable initially deferred
    for each row execute function zones_owned_within_site_scope();
