-- Read models for kaizens and A3 cases (reference/domain.md §5.3, §5.4), and the due date of
-- scheduled audits on zone_5s_scores (audit schedule adherence, §5.1).

-- One row per kaizen: current state plus the first time of each milestone.
create table kaizen_register (
    org_id            uuid        not null,
    kaizen_id         uuid        not null,
    zone_id           uuid        not null,
    title             text        not null,
    category          text        not null,
    status            text        not null,
    authors           uuid[]      not null,
    drafted_at        timestamptz not null,
    submitted_at      timestamptz,
    first_response_at timestamptz,
    implemented_at    timestamptz,
    just_do_it        boolean     not null default false,
    verified_at       timestamptz,
    closed_at         timestamptz,
    primary key (org_id, kaizen_id)
);

create index kaizen_register_by_zone on kaizen_register (org_id, zone_id, status);
create index kaizen_register_by_submitted on kaizen_register (org_id, submitted_at desc, kaizen_id);

-- The actual impact lines of each kaizen as they stand (the projection's working state: a
-- verification recognises the lines standing at that moment).
create table kaizen_actual_lines (
    org_id    uuid  not null,
    kaizen_id uuid  not null,
    line_id   text  not null,
    line      jsonb not null,
    primary key (org_id, kaizen_id, line_id)
);

-- One row per verified line per month of recognition. Adjustments and reopenings add
-- reversing rows; rows are never updated, so YTD as reported at any time can be reproduced.
create table kaizen_impact_ledger (
    org_id               uuid        not null,
    kaizen_id            uuid        not null,
    entry_seq            bigint      not null,
    line_id              text        not null,
    recognition_month    date        not null,
    classification       text        not null check (classification in ('hard', 'soft')),
    currency             text        not null,
    amount               numeric     not null,
    verification_version integer     not null,
    recorded_at          timestamptz not null,
    primary key (org_id, entry_seq, line_id, recognition_month, classification, currency)
);

create index kaizen_impact_ledger_by_kaizen on kaizen_impact_ledger (org_id, kaizen_id);
create index kaizen_impact_ledger_by_month on kaizen_impact_ledger (org_id, recognition_month);

-- One row per A3 case. A case is attributed to its owner's home zone for roll-ups.
create table a3_register (
    org_id            uuid        not null,
    a3_id             uuid        not null,
    theme             text        not null,
    owner_id          uuid        not null,
    status            text        not null,
    opened_at         timestamptz not null,
    closed_at         timestamptz,
    target_met        text,
    iteration         integer     not null default 1,
    documents_updated boolean     not null default false,
    primary key (org_id, a3_id)
);

create index a3_register_by_status on a3_register (org_id, status);

do $$
declare
    t text;
begin
    foreach t in array array['kaizen_register', 'kaizen_actual_lines', 'kaizen_impact_ledger', 'a3_register']
    loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format('create policy tenant_isolation on %I using (org_id = gemba_current_org()) '
                       'with check (org_id = gemba_current_org())', t);
        execute format('grant select, insert, update, delete on %I to gemba_app', t);
        execute format('grant select on %I to gemba_projector', t);
    end loop;
end
$$;

-- zone_5s_scores gains the due date of scheduled audits: it is rebuilt from the events.
alter table zone_5s_scores add column due_at timestamptz;
-- (Row-level security is forced on the owner too: lifted for the reset, then restored.)
truncate zone_5s_scores;
alter table projection_checkpoints no force row level security;
delete from projection_checkpoints where projection = 'zone_5s_scores';
alter table projection_checkpoints force row level security;

-- Rebuilding a projection for an organisation deletes its rows and its checkpoint.
grant delete on projection_checkpoints, defect_register, zone_5s_scores to gemba_app;
