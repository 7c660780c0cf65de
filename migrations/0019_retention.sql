-- Retention: disposal of expired events (ARCHITECTURE.md, "Retention and disposal").
--
-- Events stay append-only: the application role still has no UPDATE, DELETE or TRUNCATE on
-- `events`, and the triggers still refuse them to everyone. The one exception is
-- `gemba_dispose_events`, a SECURITY DEFINER function owned by the schema owner: it removes a
-- prefix of one organisation's chain (its own tenant only, row-level security still applies)
-- after checking that a snapshot is given for every aggregate the prefix touches, records the
-- retained anchor, and the transaction can only commit with a `RecordsDisposed` event for
-- that prefix (a deferred constraint trigger): a disposal is never silent.

-- The state of an aggregate after its last disposed event, with that event's sequence.
-- Loading an aggregate starts from its snapshot and applies the later events. Written only
-- by gemba_dispose_events.
create table aggregate_snapshots (
    org_id         uuid        not null,
    aggregate_type text        not null,
    aggregate_id   text        not null,
    sequence       bigint      not null check (sequence > 0),
    state          jsonb       not null,
    up_to_seq      bigint      not null check (up_to_seq > 0),
    taken_at       timestamptz not null default now(),
    primary key (org_id, aggregate_type, aggregate_id)
);

-- One row per disposal: every event up to `up_to_seq` is gone; `anchor_hash` is the hash of
-- event `up_to_seq`, which is the `prev_hash` of the first retained event. Written only by
-- gemba_dispose_events; never changed or removed.
create table retention_disposals (
    org_id      uuid        not null,
    up_to_seq   bigint      not null check (up_to_seq > 0),
    anchor_hash bytea       not null check (length(anchor_hash) = 32),
    events      bigint      not null check (events > 0),
    aggregates  bigint      not null check (aggregates > 0),
    cutoff      timestamptz not null,
    disposed_at timestamptz not null default now(),
    primary key (org_id, up_to_seq)
);

do $$
declare
    t text;
begin
    foreach t in array array['aggregate_snapshots', 'retention_disposals']
    loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format('create policy tenant_isolation on %I using (org_id = gemba_current_org()) '
                       'with check (org_id = gemba_current_org())', t);
        execute format('grant select on %I to gemba_app, gemba_projector', t);
    end loop;
end
$$;

-- Updates and truncation stay refused for everyone. A delete is allowed only from within
-- gemba_dispose_events, and only of a row its organisation's recorded disposal covers (and a
-- disposal commits only with its RecordsDisposed event, below): not even the schema owner
-- deletes an event otherwise while the triggers stand. The application role cannot delete
-- from events at all (it has no DELETE privilege).
create function gemba_events_guard() returns trigger
    language plpgsql
    as $$
declare
    v_stack text;
begin
    if tg_op = 'DELETE' and exists (select 1 from retention_disposals
                                     where org_id = old.org_id and up_to_seq >= old.tenant_seq) then
        get diagnostics v_stack = pg_context;
        if v_stack like '%PL/pgSQL function gemba_dispose_events(%' then
            return old;
        end if;
    end if;
    raise exception 'table % is append-only: % is not allowed', tg_table_name, tg_op
        using errcode = 'insufficient_privilege';
end
$$;

drop trigger events_append_only on events;
create trigger events_append_only before update or delete on events
    for each row execute function gemba_events_guard();

-- Disposes of the events of the current tenant up to `p_up_to` (all older than `p_cutoff`),
-- after storing `p_snapshots` (a JSON array of {aggregate_type, aggregate_id, sequence,
-- state}), exactly one per aggregate with events in the prefix, at its last sequence there.
-- Returns the number of events disposed of and the anchor hash.
create function gemba_dispose_events(p_org uuid, p_up_to bigint, p_cutoff timestamptz, p_snapshots jsonb)
    returns table (disposed bigint, anchor bytea)
    language plpgsql
    security definer
    set search_path = public, pg_temp
    as $$
declare
    v_head    bigint;
    v_from    bigint;
    v_anchor  bytea;
    v_last_at timestamptz;
    v_count   bigint;
    v_aggs    bigint;
    v_bad     bigint;
begin
    if p_org is null or p_org is distinct from gemba_current_org() then
        raise exception 'disposal outside the current organisation' using errcode = 'insufficient_privilege';
    end if;
    select last_seq into v_head from org_heads where org_id = p_org for update;
    if v_head is null or p_up_to < 1 or p_up_to > v_head then
        raise exception 'position % is not in the chain', p_up_to using errcode = 'check_violation';
    end if;
    select coalesce(max(up_to_seq), 0) into v_from from retention_disposals where org_id = p_org;
    if p_up_to <= v_from then
        raise exception 'events up to % are already disposed of', v_from using errcode = 'check_violation';
    end if;
    select hash, recorded_at into v_anchor, v_last_at from events where org_id = p_org and tenant_seq = p_up_to;
    select count(*) into v_count from events where org_id = p_org and tenant_seq > v_from and tenant_seq <= p_up_to;
    if v_anchor is null or v_count <> p_up_to - v_from then
        raise exception 'the prefix up to % is not whole', p_up_to using errcode = 'check_violation';
    end if;
    -- recorded_at grows with tenant_seq: the last disposed event is the newest.
    if v_last_at >= p_cutoff then
        raise exception 'event % is within its retention', p_up_to using errcode = 'check_violation';
    end if;
    if jsonb_typeof(p_snapshots) <> 'array' then
        raise exception 'snapshots must be an array' using errcode = 'check_violation';
    end if;
    -- Exactly one snapshot per aggregate of the prefix, at its last sequence there.
    with wanted as (
        select aggregate_type, aggregate_id, max(sequence) as sequence from events
         where org_id = p_org and tenant_seq > v_from and tenant_seq <= p_up_to
         group by aggregate_type, aggregate_id),
    given as (
        select s->>'aggregate_type' as aggregate_type, s->>'aggregate_id' as aggregate_id, (s->>'sequence')::bigint as sequence
          from jsonb_array_elements(p_snapshots) as s)
    select count(*) into v_bad from wanted w full join given g using (aggregate_type, aggregate_id)
     where w.sequence is distinct from g.sequence;
    select count(*) into v_aggs from jsonb_array_elements(p_snapshots);
    if v_bad > 0 or v_aggs <> (select count(distinct (aggregate_type, aggregate_id)) from events
                                where org_id = p_org and tenant_seq > v_from and tenant_seq <= p_up_to) then
        raise exception 'a snapshot is missing, extra or at the wrong sequence (% problems)', v_bad using errcode = 'check_violation';
    end if;
    insert into aggregate_snapshots (org_id, aggregate_type, aggregate_id, sequence, state, up_to_seq)
    select p_org, s->>'aggregate_type', s->>'aggregate_id', (s->>'sequence')::bigint, s->'state', p_up_to
      from jsonb_array_elements(p_snapshots) as s
    on conflict (org_id, aggregate_type, aggregate_id) do update
        set sequence = excluded.sequence, state = excluded.state, up_to_seq = excluded.up_to_seq, taken_at = now();
    insert into retention_disposals (org_id, up_to_seq, anchor_hash, events, aggregates, cutoff)
    values (p_org, p_up_to, v_anchor, v_count, v_aggs, p_cutoff);
    delete from events where org_id = p_org and tenant_seq > v_from and tenant_seq <= p_up_to;
    return query select v_count, v_anchor;
end
$$;

revoke all on function gemba_dispose_events(uuid, bigint, timestamptz, jsonb) from public;
grant execute on function gemba_dispose_events(uuid, bigint, timestamptz, jsonb) to gemba_app;

-- A disposal commits only together with the RecordsDisposed event that records it.
create function retention_disposals_audited() returns trigger
    language plpgsql
    as $$
begin
    if not exists (select 1 from events
                    where org_id = new.org_id and event_type = 'RecordsDisposed'
                      and (payload #>> '{RecordsDisposed,facts,up_to_seq}')::bigint = new.up_to_seq) then
        raise exception 'the disposal up to % of organisation % is not recorded by a RecordsDisposed event', new.up_to_seq, new.org_id
            using errcode = 'check_violation', constraint = 'retention_disposals_audited';
    end if;
    return null;
end
$$;

create constraint trigger retention_disposals_audited after insert on retention_disposals
    deferrable initially deferred
    for each row execute function retention_disposals_audited();
