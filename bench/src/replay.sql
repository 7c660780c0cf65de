-- postgres-es 0.5's tables (its db/init.sql) under names of their own, beside Gemba's tables
-- in the read side's database: the event table and one table per `PostgresViewRepository`.
drop table if exists es_events, es_snapshots, es_defect_register, es_zone_5s_scores, es_kaizen_register;
create table es_events
(
    aggregate_type text                         not null,
    aggregate_id   text                         not null,
    sequence       bigint check (sequence >= 0) not null,
    event_type     text                         not null,
    event_version  text                         not null,
    payload        json                         not null,
    metadata       json                         not null,
    primary key (aggregate_type, aggregate_id, sequence)
);
-- Unused by a replay; `PostgresEventRepository::with_tables` names it.
create table es_snapshots
(
    aggregate_type   text                                 not null,
    aggregate_id     text                                 not null,
    last_sequence    bigint check (last_sequence >= 0)    not null,
    current_snapshot bigint check (current_snapshot >= 0) not null,
    payload          json                                 not null,
    primary key (aggregate_type, aggregate_id, last_sequence)
);
create table es_defect_register
(
    view_id text                        not null,
    version bigint check (version >= 0) not null,
    payload json                        not null,
    primary key (view_id)
);
create table es_zone_5s_scores
(
    view_id text                        not null,
    version bigint check (version >= 0) not null,
    payload json                        not null,
    primary key (view_id)
);
create table es_kaizen_register
(
    view_id text                        not null,
    version bigint check (version >= 0) not null,
    payload json                        not null,
    primary key (view_id)
)
