-- The zone_5s_scores read model (reference/domain.md §5.1): one row per audit, with its frozen
-- score once submitted (the latest correction wins).
create table zone_5s_scores (
    org_id       uuid        not null,
    audit_id     uuid        not null,
    zone_id      uuid        not null,
    audit_type   text        not null,
    status       text        not null,
    submitted_at timestamptz,
    score_pct    numeric,
    band         text,
    sections     jsonb,
    corrected    boolean     not null default false,
    primary key (org_id, audit_id)
);

create index zone_5s_scores_latest on zone_5s_scores (org_id, zone_id, submitted_at desc) where status = 'SUBMITTED';

alter table zone_5s_scores enable row level security;
alter table zone_5s_scores force row level security;
create policy tenant_isolation on zone_5s_scores using (org_id = gemba_current_org()) with check (org_id = gemba_current_org());
grant select, insert, update on zone_5s_scores to gemba_app;
grant select on zone_5s_scores to gemba_projector;
