-- Soft deletion with a recovery window (zones, defects, kaizens, A3 cases, members) and
-- workspace cancellation with a grace period and a purge (ARCHITECTURE.md, "Deletion,
-- recovery and workspace cancellation").

-- The entities deleted now, kept by the registry in the transaction that appends the
-- `…Deleted` event (a recovery removes the row), so every view hides them at once.
create table deleted_entities (
    org_id            uuid        not null,
    entity_id         uuid        not null,
    kind              text        not null check (kind in ('ZONE', 'DEFECT', 'KAIZEN', 'A3_CASE', 'MEMBER')),
    deleted_at        timestamptz not null,
    recoverable_until timestamptz not null,
    primary key (org_id, entity_id)
);

alter table deleted_entities enable row level security;
alter table deleted_entities force row level security;
create policy tenant_isolation on deleted_entities using (org_id = gemba_current_org()) with check (org_id = gemba_current_org());
grant select, insert, delete on deleted_entities to gemba_app;
grant select on deleted_entities to gemba_projector;

-- Whether `entity` (of the current organisation) is visible, i.e. not deleted. Every read of
-- a register, roll-up, leaderboard or list filters with it. Runs as the caller (row-level
-- security applies).
create function gemba_visible(entity uuid) returns boolean
    language sql stable
    as $$ select not exists (select 1 from deleted_entities d
                             where d.org_id = gemba_current_org() and d.entity_id = entity) $$;
grant execute on function gemba_visible(uuid) to gemba_app, gemba_projector;

-- Where the workspace stands (`Workspace` events): cancelled workspaces are locked, purged
-- ones keep only their events and chain.
alter table organizations
    add column status      text not null default 'ACTIVE' check (status in ('ACTIVE', 'CANCELLED', 'PURGED')),
    add column purge_after timestamptz;

-- The purge removes the organisation's primary data (its own rows only: row-level security).
grant delete on members, sites, zones, areas, audits, defects, kaizens, red_tag_items, evidence_files,
    points_awards, points_rulesets, number_sequences, entity_numbers, sessions to gemba_app;
