-- Evidence files: one row per file per organisation, written in the transaction that
-- appends its `EvidenceUploaded` event. The bytes live in the object store under
-- `orgs/<org_id>/<sha256>`; this row is what makes a file visible to its organisation.
create table evidence_files (
    org_id      uuid        not null,
    sha256      text        not null check (sha256 ~ '^[0-9a-f]{64}$'),
    media_type  text        not null,
    size_bytes  bigint      not null check (size_bytes > 0),
    uploaded_by uuid        not null,
    uploaded_at timestamptz not null,
    primary key (org_id, sha256)
);

alter table evidence_files enable row level security;
alter table evidence_files force row level security;
create policy tenant_isolation on evidence_files using (org_id = gemba_current_org()) with check (org_id = gemba_current_org());
grant select, insert on evidence_files to gemba_app;
