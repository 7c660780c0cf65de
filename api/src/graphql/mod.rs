//! The GraphQL schema.

/// Mirrors a domain enum as a GraphQL enum (the domain knows no GraphQL).
macro_rules! mirror_enum {
    ($(#[$doc:meta])* $name:ident => $domain:path { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(async_graphql::Enum, Copy, Clone, Debug, Eq, PartialEq)]
        pub enum $name { $($variant),+ }

        impl From<$name> for $domain {
            fn from(value: $name) -> Self {
                match value { $($name::$variant => <$domain>::$variant),+ }
            }
        }

        impl From<$domain> for $name {
            fn from(value: $domain) -> Self {
                match value { $(<$domain>::$variant => $name::$variant),+ }
            }
        }
    };
}

pub mod audit_trail;
pub mod checkpoints;
pub mod context;
pub mod defects;
pub mod deletion;
pub mod errors;
pub mod evidence;
pub mod five_s;
pub mod improvement;
mod inputs;
pub mod kpis;
pub mod loaders;
pub mod members;
pub mod mutation;
pub mod organization;
pub mod plant;
pub mod points;
pub mod query;
pub mod read_models;
pub mod red_tags;
pub mod retention;
pub mod subscriptions;
pub mod types;

use async_graphql::{MergedObject, MergedSubscription, Schema};

/// All queries.
#[derive(Debug, Default, MergedObject)]
pub struct Query(
    query::CoreQuery,
    defects::DefectQuery,
    five_s::FiveSQuery,
    improvement::ImprovementQuery,
    evidence::EvidenceQuery,
    points::PointsQuery,
    plant::PlantQuery,
    red_tags::RedTagQuery,
    read_models::ReadModelQuery,
    kpis::KpiQuery,
    audit_trail::AuditTrailQuery,
    checkpoints::CheckpointQuery,
    deletion::DeletionQuery,
    retention::RetentionQuery,
);

/// All mutations.
#[derive(Debug, Default, MergedObject)]
pub struct Mutation(
    mutation::CoreMutation,
    defects::DefectMutation,
    five_s::FiveSMutation,
    improvement::ImprovementMutation,
    points::PointsMutation,
    plant::PlantMutation,
    members::MemberMutation,
    organization::OrganizationMutation,
    red_tags::RedTagMutation,
    deletion::DeletionMutation,
    retention::RetentionMutation,
);

/// All subscriptions (served over WebSocket at `GET /graphql`).
#[derive(Debug, Default, MergedSubscription)]
pub struct Subscription(subscriptions::LiveSubscription);

/// The schema type.
pub type GembaSchema = Schema<Query, Mutation, Subscription>;

/// Deepest accepted query.
pub const MAX_DEPTH: usize = 12;
/// Most complex accepted query.
pub const MAX_COMPLEXITY: usize = 1000;

/// Builds the schema over the shared services.
pub fn schema(services: context::Services) -> GembaSchema {
    let zones = async_graphql::dataloader::DataLoader::new(loaders::ZoneLoader { pool: services.gemba.pool().clone() }, tokio::spawn);
    Schema::build(Query::default(), Mutation::default(), Subscription::default())
        .data(services)
        .data(zones)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// The schema in SDL, as committed in `api/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription::default()).finish().sdl()
}
