//! The GraphQL schema.

pub mod context;
pub mod errors;
pub mod mutation;
pub mod query;
pub mod types;

use async_graphql::{EmptySubscription, Schema};

/// The schema type.
pub type GembaSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;

/// Deepest accepted query.
pub const MAX_DEPTH: usize = 12;
/// Most complex accepted query.
pub const MAX_COMPLEXITY: usize = 1000;

/// Builds the schema over the shared services.
pub fn schema(services: context::Services) -> GembaSchema {
    Schema::build(query::Query, mutation::Mutation, EmptySubscription)
        .data(services)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// The schema in SDL, as committed in `api/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(query::Query, mutation::Mutation, EmptySubscription).finish().sdl()
}
