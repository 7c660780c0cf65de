-- Zero-downtime projection rebuilds (projections/src/rebuild.rs, ARCHITECTURE.md).
--
-- A rebuild builds the new version of a projection for one organisation into the shadow
-- tables of schema `rebuild` (same names, same columns, same indexes, same row-level
-- security) while the live tables keep serving, then swaps the organisation's rows in one
-- transaction. A migration that changes a read-model table changes its shadow too (a test
-- compares the two).

create schema rebuild;
grant usage on schema rebuild to gemba_app, gemba_projector;

do $$
declare
    t text;
begin
    foreach t in array array['defect_register', 'zone_5s_scores', 'kaizen_register', 'kaizen_actual_lines',
                             'kaizen_impact_ledger', 'a3_register']
    loop
        execute format('create table rebuild.%I (like public.%I including all)', t, t);
        execute format('alter table rebuild.%I enable row level security', t);
        execute format('alter table rebuild.%I force row level security', t);
        execute format('create policy tenant_isolation on rebuild.%I using (org_id = gemba_current_org()) '
                       'with check (org_id = gemba_current_org())', t);
        execute format('grant select, insert, update, delete on rebuild.%I to gemba_app', t);
    end loop;
end
$$;

-- One row per organisation and projection being (or last) rebuilt: the rebuild's own
-- checkpoint (written in the same transaction as the shadow rows it covers, so a killed
-- rebuild resumes where it stood) and its progress.
create table projection_rebuilds (
    org_id         uuid        not null,
    projection     text        not null,
    version        integer     not null,
    state          text        not null check (state in ('RUNNING', 'FAILED', 'CANCELLED', 'SWAPPED')),
    last_seq       bigint      not null default 0,
    head_seq       bigint      not null,
    started_at     timestamptz not null default now(),
    run_started_at timestamptz not null default now(),
    run_start_seq  bigint      not null default 0,
    updated_at     timestamptz not null default now(),
    finished_at    timestamptz,
    last_error     text,
    primary key (org_id, projection)
);

alter table projection_rebuilds enable row level security;
alter table projection_rebuilds force row level security;
create policy tenant_isolation on projection_rebuilds using (org_id = gemba_current_org()) with check (org_id = gemba_current_org());
grant select, insert, update on projection_rebuilds to gemba_app;
grant select on projection_rebuilds to gemba_projector;
