//! The committed schema matches the code.

#[test]
fn the_committed_schema_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../api/schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let current = gemba_api::graphql::sdl();
    if committed != current {
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &current).expect("write schema");
            return;
        }
        panic!("api/schema.graphql is out of date: run `UPDATE_SCHEMA=1 cargo test --workspace schema` and commit it");
    }
}
