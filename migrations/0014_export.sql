-- Audit-trail exports an auditor can verify offline (docs: ARCHITECTURE.md, "Export and
-- offline verification").

-- Signed chain checkpoints: the chain head of an organisation at some moment, signed with
-- the deployment's Ed25519 key. Taken periodically by the server and by every export. A
-- checkpoint is never changed or removed (the application role may only insert and read),
-- so an auditor can compare a later export with a checkpoint given out earlier.
create table chain_checkpoints (
    org_id      uuid        not null,
    tenant_seq  bigint      not null check (tenant_seq > 0),
    hash        bytea       not null check (length(hash) = 32),
    recorded_at timestamptz not null,
    key_id      text        not null,
    signature   text        not null,
    primary key (org_id, tenant_seq)
);

-- The signed manifests of finished exports, for clients of `GET /export/events` that fetch
-- the manifest after the stream (`GET /export/events/{export_id}/manifest`).
create table export_manifests (
    org_id     uuid        not null,
    export_id  uuid        not null,
    manifest   jsonb       not null,
    created_at timestamptz not null default now(),
    primary key (org_id, export_id)
);

do $$
declare
    t text;
begin
    foreach t in array array['chain_checkpoints', 'export_manifests']
    loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format('create policy tenant_isolation on %I using (org_id = gemba_current_org()) '
                       'with check (org_id = gemba_current_org())', t);
        execute format('grant select, insert on %I to gemba_app', t);
        execute format('grant select on %I to gemba_projector', t);
    end loop;
end
$$;
