-- The projector engine: one checkpoint per organisation and projection, written in the same
-- transaction as the read-model rows it covers (exactly-once effect, crash-safe). The row
-- lock on the checkpoint keeps two workers from applying the same events.
create table projection_checkpoints (
    org_id     uuid        not null,
    projection text        not null,
    version    integer     not null,
    last_seq   bigint      not null default 0,
    updated_at timestamptz not null default now(),
    last_error text,
    failed_seq bigint,
    primary key (org_id, projection)
);

-- The defect register (reference/domain.md §5.2): one row per defect, current state plus
-- lifecycle timestamps.
create table defect_register (
    org_id            uuid        not null,
    defect_id         uuid        not null,
    zone_id           uuid        not null,
    status            text        not null,
    priority          text        not null,
    abnormality_type  text        not null,
    tag_class         text        not null,
    origin            text        not null,
    title             text        not null,
    found_by          uuid        not null,
    assignee_id       uuid,
    raised_at         timestamptz not null,
    first_assigned_at timestamptz,
    due_at            timestamptz,
    original_due_at   timestamptz,
    resolved_at       timestamptz,
    resolved_by       uuid,
    closed_at         timestamptz,
    verified_by       uuid,
    cancelled_at      timestamptz,
    hold_started_at   timestamptz,
    hold_seconds      bigint      not null default 0,
    reopen_count      integer     not null default 0,
    escalation_level  integer     not null default 0,
    primary key (org_id, defect_id)
);

create index defect_register_by_zone_status on defect_register (org_id, zone_id, status);
create index defect_register_by_raised on defect_register (org_id, raised_at desc, defect_id);

do $$
declare
    t text;
begin
    foreach t in array array['projection_checkpoints', 'defect_register']
    loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format('create policy tenant_isolation on %I using (org_id = gemba_current_org()) '
                       'with check (org_id = gemba_current_org())', t);
    end loop;
end
$$;

grant select, insert, update on projection_checkpoints, defect_register to gemba_app;
grant select on projection_checkpoints, defect_register to gemba_projector;
