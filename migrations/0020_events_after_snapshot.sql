-- An event never lands at or below its aggregate's snapshot.
--
-- Loading an aggregate reads its snapshot, then its later events. A disposal that commits
-- between the two reads leaves the loader with neither the disposed events nor the snapshot
-- that replaced them: it would decide on a wrong state and append at a sequence the disposal
-- freed (the primary key no longer sees the old row), an event every later load skips.
-- Refusing such an insert as the optimistic-concurrency conflict it is (`events_pkey`)
-- makes the command decide again, on the snapshot.
create function gemba_events_after_snapshot() returns trigger
    language plpgsql
    set search_path = public, pg_temp
    as $$
begin
    if exists (select 1 from inserted i
                 join aggregate_snapshots s on s.org_id = i.org_id and s.aggregate_type = i.aggregate_type
                                            and s.aggregate_id = i.aggregate_id
                where i.sequence <= s.sequence) then
        raise exception 'an event at or below its aggregate''s snapshot (disposed of meanwhile)'
            using errcode = 'unique_violation', constraint = 'events_pkey';
    end if;
    return null;
end
$$;

create trigger events_after_snapshot after insert on events
    referencing new table as inserted
    for each statement execute function gemba_events_after_snapshot();
