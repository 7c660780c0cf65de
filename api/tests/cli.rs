//! The `gemba` binary's command line (this test target also makes `cargo test` build the
//! binary that the integration suite in `tests/` drives).

use std::process::Command;

fn gemba(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gemba")).args(args).output().unwrap_or_else(|e| panic!("running gemba: {e}"))
}

#[test]
fn help_lists_the_subcommands() {
    let output = gemba(&["--help"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    for command in ["serve", "migrate", "verify", "db"] {
        assert!(text.contains(command), "{command} missing from:\n{text}");
    }
}

#[test]
fn verify_rejects_a_malformed_organisation_id() {
    let output = gemba(&["verify", "--org", "not-a-uuid"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--org"));
}

#[test]
fn an_unreachable_database_is_reported_not_panicked_on() {
    let output = Command::new(env!("CARGO_BIN_EXE_gemba"))
        .args(["verify", "--org", "00000000-0000-0000-0000-000000000001"])
        .env("DATABASE_URL", "postgres://nobody:nothing@127.0.0.1:1/none")
        .output()
        .unwrap_or_else(|e| panic!("running gemba: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("gemba: database"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
