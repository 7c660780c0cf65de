-- Human numbers of defects (tags), kaizens and A3 cases, e.g. `PLT1-T-2026-000123`: one
-- gapless sequence per organisation, scope (site code and kind) and year, advanced in the
-- transaction that appends the creating event, so numbers follow the event order and a
-- rebuild from the events gives every record the same number again.
create table number_sequences (
    org_id uuid    not null,
    scope  text    not null,
    year   integer not null,
    last   bigint  not null,
    primary key (org_id, scope, year)
);

create table entity_numbers (
    org_id    uuid not null,
    entity_id uuid not null,
    number    text not null,
    primary key (org_id, entity_id),
    constraint entity_numbers_number_key unique (org_id, number)
);

do $$
declare
    t text;
begin
    foreach t in array array['number_sequences', 'entity_numbers']
    loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format('create policy tenant_isolation on %I using (org_id = gemba_current_org()) '
                       'with check (org_id = gemba_current_org())', t);
    end loop;
end
$$;

grant select, insert, update on number_sequences to gemba_app;
grant select, insert on entity_numbers to gemba_app;
