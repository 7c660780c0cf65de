//! The committed schemas match the code: the tenants' (`api/schema.graphql`) and the
//! operators' (`api/operator.graphql`).

fn check(file: &str, current: &str) {
    let path = format!("{}/../api/{file}", env!("CARGO_MANIFEST_DIR"));
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != current {
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, current).expect("write schema");
            return;
        }
        panic!("api/{file} is out of date: run `UPDATE_SCHEMA=1 cargo test -p gemba-tests --test it schema` and commit it");
    }
}

#[test]
fn the_committed_schema_matches_the_code() {
    check("schema.graphql", &gemba_api::graphql::sdl());
}

#[test]
fn the_committed_operator_schema_matches_the_code() {
    check("operator.graphql", &gemba_api::operator::sdl());
}
