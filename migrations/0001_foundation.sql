-- Foundation: the tenant event store, its hash chain, and the write side's registry.
--
-- Run as the owner role (the role that runs `gemba migrate`). The roles gemba_app and
-- gemba_projector must exist (`gemba migrate` creates them when missing); they own nothing,
-- cannot bypass row-level security, and get only the privileges granted below.
--
-- Tenancy: every table holding customer data starts with org_id, has row-level security
-- FORCE'd (so even the owner is subject to it), and a policy that compares org_id with the
-- transaction-local setting app.org_id. With no tenant set the policy matches nothing:
-- reads return no rows and writes are refused (fail closed).

create function gemba_current_org() returns uuid
    language sql stable
    as $$ select nullif(current_setting('app.org_id', true), '')::uuid $$;

comment on function gemba_current_org() is
    'The organisation of the current transaction (set_config(''app.org_id'', id, true)), or null.';

-- Refuses any change to an append-only table.
create function gemba_refuse_change() returns trigger
    language plpgsql
    as $$
begin
    raise exception 'table % is append-only: % is not allowed', tg_table_name, tg_op
        using errcode = 'insufficient_privilege';
end
$$;

-- One row per organisation: the head of its event stream. Appends lock this row first, so
-- tenant_seq is assigned in commit order and without gaps, and last_hash is the chain head.
create table org_heads (
    org_id    uuid   primary key,
    last_seq  bigint not null check (last_seq >= 0),
    last_hash bytea  not null check (length(last_hash) = 32)
);

-- The event store: the audit log of record.
create table events (
    org_id         uuid        not null,
    aggregate_type text        not null,
    aggregate_id   text        not null,
    sequence       bigint      not null check (sequence > 0),
    tenant_seq     bigint      not null check (tenant_seq > 0),
    event_type     text        not null,
    event_version  text        not null,
    payload        jsonb       not null,
    metadata       jsonb       not null,
    recorded_at    timestamptz not null,
    prev_hash      bytea       not null check (length(prev_hash) = 32),
    hash           bytea       not null check (length(hash) = 32),
    -- optimistic concurrency: one event per aggregate version
    constraint events_pkey primary key (org_id, aggregate_type, aggregate_id, sequence),
    constraint events_tenant_seq_key unique (org_id, tenant_seq)
);

create index events_by_aggregate_id on events (org_id, aggregate_id, tenant_seq);
create index events_by_aggregate_type on events (org_id, aggregate_type, tenant_seq);

create trigger events_append_only before update or delete on events
    for each row execute function gemba_refuse_change();
create trigger events_no_truncate before truncate on events
    for each statement execute function gemba_refuse_change();

-- Idempotency: a command id is executed once per organisation.
create table command_log (
    org_id         uuid        not null,
    command_id     uuid        not null,
    aggregate_type text        not null,
    aggregate_id   text        not null,
    first_seq      bigint      not null,
    last_seq       bigint      not null,
    recorded_at    timestamptz not null default now(),
    constraint command_log_pkey primary key (org_id, command_id)
);

-- Envelope encryption of personal data: person keys wrapped by the organisation key,
-- organisation keys wrapped by the application key. Deleting a person key shreds that
-- person's data in every event while the hash chain (over ciphertext) still verifies.
create table org_keys (
    org_id      uuid        primary key,
    wrapped_key bytea       not null,
    created_at  timestamptz not null default now()
);

create table person_keys (
    org_id      uuid        not null,
    person_id   uuid        not null,
    wrapped_key bytea       not null,
    created_at  timestamptz not null default now(),
    primary key (org_id, person_id)
);

-- Write-side registry, maintained in the same transaction as the events it follows.
-- It holds what commands must check atomically (uniqueness, at least one owner,
-- authentication) and serves the simple reads of the first slice.
create table organizations (
    org_id     uuid        primary key,
    name       text        not null,
    created_at timestamptz not null
);

create table members (
    org_id       uuid        not null,
    member_id    uuid        not null,
    role         text        not null check (role in ('OWNER', 'ADMIN', 'MEMBER', 'AUDITOR')),
    status       text        not null check (status in ('INVITED', 'ACTIVE', 'REMOVED')),
    email        jsonb       not null,  -- sealed
    display_name jsonb,                 -- sealed; null until joined
    joined_at    timestamptz,
    capabilities text[]      not null default '{}',
    primary key (org_id, member_id)
);

-- At commit, every organisation that has members has an active owner. Appends of one
-- organisation are serialised by org_heads, so concurrent demotions cannot both pass.
create function members_keep_an_owner() returns trigger
    language plpgsql
    as $$
begin
    if not exists (select 1 from members
                   where org_id = new.org_id and role = 'OWNER' and status = 'ACTIVE') then
        raise exception 'organisation % would have no active owner', new.org_id
            using errcode = 'check_violation', constraint = 'members_keep_an_owner';
    end if;
    return null;
end
$$;

create constraint trigger members_keep_an_owner after insert or update on members
    deferrable initially deferred
    for each row execute function members_keep_an_owner();

-- Credentials: one login identity per member of an organisation.
create table credentials (
    org_id        uuid        not null,
    member_id     uuid        not null,
    email         text        not null,
    password_hash text        not null,
    created_at    timestamptz not null default now(),
    primary key (org_id, member_id),
    constraint credentials_email_key unique (org_id, email)
);

-- Sessions: opaque random tokens, stored as sha256. `id` names the session in the audit log.
create table sessions (
    org_id     uuid        not null,
    token_hash bytea       not null,
    id         uuid        not null,
    member_id  uuid        not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    revoked_at timestamptz,
    primary key (org_id, token_hash)
);

-- Invitations: single-use tokens with an expiry, stored as sha256.
create table invitations (
    org_id      uuid        not null,
    id          uuid        not null,
    token_hash  bytea       not null,
    member_id   uuid        not null,
    email       text        not null,
    role        text        not null,
    expires_at  timestamptz not null,
    accepted_at timestamptz,
    primary key (org_id, id),
    constraint invitations_token_key unique (org_id, token_hash)
);

create table sites (
    org_id   uuid not null,
    site_id  uuid not null,
    code     text not null,
    name     text not null,
    timezone text not null,
    primary key (org_id, site_id),
    constraint sites_code_key unique (org_id, code)
);

create table zones (
    org_id          uuid not null,
    zone_id         uuid not null,
    site_id         uuid not null,
    code            text not null,
    name            text not null,
    owner_member_id uuid,
    status          text not null check (status in ('ACTIVE', 'ARCHIVED')),
    primary key (org_id, zone_id),
    constraint zones_code_key unique (org_id, site_id, code),
    foreign key (org_id, site_id) references sites (org_id, site_id)
);

-- Deputies of zone leaders.
create table zone_deputies (
    org_id    uuid not null,
    zone_id   uuid not null,
    member_id uuid not null,
    primary key (org_id, zone_id, member_id),
    foreign key (org_id, zone_id) references zones (org_id, zone_id)
);

create index zones_by_owner on zones (org_id, owner_member_id) where owner_member_id is not null;

-- At commit, the owner of every active zone is an active member, whichever of two
-- concurrent commands (assign an owner, remove a member) committed last.
create function zones_owned_by_active_members() returns trigger
    language plpgsql
    as $$
begin
    if tg_table_name = 'zones' then
        if new.status = 'ACTIVE' and new.owner_member_id is not null
           and not exists (select 1 from members m
                            where m.org_id = new.org_id and m.member_id = new.owner_member_id
                              and m.status = 'ACTIVE') then
            raise exception 'zone % would be owned by an inactive member', new.zone_id
                using errcode = 'check_violation', constraint = 'zones_owned_by_active_members';
        end if;
    elsif exists (select 1 from zones z
                   where z.org_id = new.org_id and z.owner_member_id = new.member_id and z.status = 'ACTIVE') then
        raise exception 'member % still owns active zones', new.member_id
            using errcode = 'check_violation', constraint = 'zones_owned_by_active_members';
    end if;
    return null;
end
$$;

create constraint trigger zones_owned_by_active_members after insert or update on zones
    deferrable initially deferred
    for each row execute function zones_owned_by_active_members();

create constraint trigger members_own_no_zone_when_inactive after update on members
    deferrable initially deferred
    for each row when (new.status <> 'ACTIVE')
    execute function zones_owned_by_active_members();

-- 5S audits: at most one audit in progress per zone and audit type.
create table audits (
    org_id     uuid not null,
    audit_id   uuid not null,
    zone_id    uuid not null,
    audit_type text not null,
    status     text not null check (status in ('IN_PROGRESS', 'SUBMITTED', 'CANCELLED')),
    primary key (org_id, audit_id)
);

create unique index audits_one_in_progress on audits (org_id, zone_id, audit_type) where status = 'IN_PROGRESS';

-- Points: one row per award (idempotent per award id), for balances and leaderboards.
create table points_awards (
    org_id    uuid        not null,
    award_id  text        not null,
    member_id uuid        not null,
    rule_id   text        not null,
    points    bigint      not null,
    earned_at timestamptz not null,
    reversed  boolean     not null default false,
    primary key (org_id, award_id)
);

create index points_awards_by_member on points_awards (org_id, member_id);

-- Row-level security on every tenant table.
do $$
declare
    t text;
begin
    foreach t in array array['organizations', 'org_heads', 'events', 'command_log', 'org_keys', 'person_keys',
                             'members', 'credentials', 'sessions', 'invitations', 'sites', 'zones', 'zone_deputies', 'audits', 'points_awards']
    loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format('create policy tenant_isolation on %I using (org_id = gemba_current_org()) '
                       'with check (org_id = gemba_current_org())', t);
    end loop;
end
$$;

-- Privileges: the application appends events and maintains the registry; it can never
-- update or delete an event. The projector reads events.
grant usage on schema public to gemba_app, gemba_projector;
grant execute on function gemba_current_org() to gemba_app, gemba_projector;
grant select, insert on events, command_log, org_keys to gemba_app;
grant select, insert, update on org_heads to gemba_app;
grant select, insert, delete on person_keys to gemba_app;
grant select, insert, update on organizations, members, sites, zones, sessions to gemba_app;
grant select, insert, update, delete on invitations to gemba_app;
grant select, insert, delete on zone_deputies to gemba_app;
grant select, insert, update on audits to gemba_app;
grant select, insert, update on points_awards to gemba_app;
grant select, insert, update, delete on credentials to gemba_app;
grant select on events, org_heads to gemba_projector;
