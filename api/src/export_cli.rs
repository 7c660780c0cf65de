//! `gemba export` (through the database, like `gemba verify --org`) and
//! `gemba verify --export` (offline: never opens a database).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use axum::body::Bytes;
use gemba_commands::export::{read_manifest, verify_file};
use gemba_commands::service::{Gemba, SystemClock};
use gemba_commands::signing::PublicKey;
use gemba_domain::OrgId;
use gemba_domain::export::{DataExportSubject, DataFormat, ExportFormat};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::cli::{DbArgs, ExportArgs};
use crate::database::{Database, app_key, signing_key};
use crate::export::{Exporter, Requester, parse_scope};

/// `<file>.manifest.json`.
pub fn manifest_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".manifest.json");
    PathBuf::from(name)
}

/// `gemba export`: writes the file and its signed manifest; a progress bar on stderr when
/// it is a terminal.
pub async fn export(db: &DbArgs, args: ExportArgs) -> anyhow::Result<ExitCode> {
    if args.person.is_some() || args.workspace {
        return export_data(db, args).await;
    }
    let format = ExportFormat::parse("--format", &args.format).map_err(|e| anyhow!("{e}"))?;
    let event_types = (!args.event_types.is_empty()).then(|| args.event_types.join(","));
    let scope =
        parse_scope(args.from.as_deref(), args.to.as_deref(), args.entity.as_deref(), args.actor.as_deref(), event_types.as_deref())
            .map_err(|e| anyhow!("{}", e.message()))?;
    let keyring = app_key(db.app_key.as_deref(), &db.data_dir).map_err(anyhow::Error::msg)?;
    let signer = signing_key(db.signing_key.as_deref(), &db.data_dir).map_err(anyhow::Error::msg)?;
    let database = Database::open(&db.config()).await?;
    let result = async {
        let evidence = gemba_commands::evidence::EvidenceConfig::local(&db.data_dir.join("evidence"))?;
        let gemba = Gemba::new(database.pool.clone(), keyring, Arc::new(SystemClock), evidence)?;
        let exporter = Exporter::new(gemba, signer);
        let org = OrgId(args.org);
        let started = exporter.start(org, Requester::Operator, format, scope).await.map_err(|e| anyhow!("{}", e.message()))?;
        let export_id = started.export_id;
        let bound = started.head.as_ref().map_or(0, |h| h.0);
        let file = tokio::fs::File::create(&args.out).await.with_context(|| format!("creating {}", args.out.display()))?;
        let (sink, writer) = file_writer(file);
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(u64::try_from(bound).unwrap_or(0));
            let style = ProgressStyle::with_template("{spinner} {pos}/{len} events {per_sec} [{elapsed_precise}, {eta} left] {wide_bar}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        } else {
            ProgressBar::hidden()
        };
        let shown = bar.clone();
        let manifest = exporter.run(started, &sink, &move |rows| shown.set_position(rows)).await;
        drop(sink);
        let written = writer.await.map_err(|e| anyhow!("the file writer failed: {e}"))?;
        bar.finish_and_clear();
        let manifest = manifest.map_err(|e| anyhow!("export {export_id} failed: {}", e.message()))?;
        written.with_context(|| format!("writing {}", args.out.display()))?;
        let manifest_file = manifest_path(&args.out);
        std::fs::write(&manifest_file, serde_json::to_string_pretty(&manifest)?)
            .with_context(|| format!("writing {}", manifest_file.display()))?;
        println!(
            "exported {} events of organisation {} to {} (sha256 {}), manifest {}",
            manifest.rows,
            args.org,
            args.out.display(),
            manifest.file_sha256,
            manifest_file.display()
        );
        Ok(ExitCode::SUCCESS)
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&args.out);
    }
    database.close().await;
    result
}

/// `gemba verify --export FILE [--manifest FILE] [--public-key FILE]`: no database.
pub fn verify_export(export: &Path, manifest: Option<&Path>, public_key: Option<&Path>) -> anyhow::Result<ExitCode> {
    let manifest_file = manifest.map_or_else(|| manifest_path(export), Path::to_path_buf);
    let text = std::fs::read_to_string(&manifest_file).with_context(|| format!("reading {}", manifest_file.display()))?;
    let key = public_key
        .map(|path| {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            PublicKey::from_base64(&text).map_err(|e| anyhow!("{}: {e}", path.display()))
        })
        .transpose()?;
    let file = std::fs::File::open(export).with_context(|| format!("opening {}", export.display()))?;
    let outcome = read_manifest(&text, key.as_ref()).and_then(|(manifest, _)| verify_file(file, &manifest).map(|v| (manifest, v)));
    match outcome {
        Ok((manifest, verified)) => {
            if key.is_none() {
                eprintln!(
                    "warning: the signature was checked with the key the manifest names ({}); pass --public-key with the \
                     deployment's key (`gemba keys public`) to check who signed it",
                    manifest.public_key_id
                );
            }
            let checkpoint = match (&manifest.checkpoint, verified.checkpoint_matched) {
                (Some(c), true) => format!(", signed checkpoint at tenant_seq {} matched", c.tenant_seq),
                (Some(c), false) => format!(", signed checkpoint at tenant_seq {} (outside the rows) is valid", c.tenant_seq),
                (None, _) => String::new(),
            };
            let range = match (verified.first_tenant_seq, verified.last_tenant_seq) {
                (Some(first), Some(last)) => format!("tenant_seq {first}..={last}"),
                _ => "no rows".to_owned(),
            };
            let kind = if manifest.filtered { "filtered export: each row checked on its own" } else { "consecutive chain" };
            println!("export verified: {} rows ({range}, {kind}) of organisation {}{checkpoint}", verified.rows, manifest.org_id);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            println!("export does NOT verify: {error}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `gemba export --person MEMBER | --workspace [--table T]`: a data export to a file.
async fn export_data(db: &DbArgs, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let format = DataFormat::parse("--format", &args.format).map_err(|e| anyhow!("{e}"))?;
    let subject = match args.person {
        Some(member) => DataExportSubject::Person { member_id: gemba_domain::MemberId(member) },
        None => DataExportSubject::Workspace { table: args.table.clone() },
    };
    let keyring = app_key(db.app_key.as_deref(), &db.data_dir).map_err(anyhow::Error::msg)?;
    let signer = signing_key(db.signing_key.as_deref(), &db.data_dir).map_err(anyhow::Error::msg)?;
    let database = Database::open(&db.config()).await?;
    let result = async {
        let evidence = gemba_commands::evidence::EvidenceConfig::local(&db.data_dir.join("evidence"))?;
        let gemba = Gemba::new(database.pool.clone(), keyring, Arc::new(SystemClock), evidence)?;
        let exporter = Exporter::new(gemba, signer);
        let started =
            exporter.start_data(OrgId(args.org), Requester::Operator, subject, format).await.map_err(|e| anyhow!("{}", e.message()))?;
        let export_id = started.export_id;
        let file = tokio::fs::File::create(&args.out).await.with_context(|| format!("creating {}", args.out.display()))?;
        let (sink, writer) = file_writer(file);
        let done = exporter.run_data(started, &sink).await;
        drop(sink);
        let written = writer.await.map_err(|e| anyhow!("the file writer failed: {e}"))?;
        let done = done.map_err(|e| anyhow!("export {export_id} failed: {}", e.message()))?;
        written.with_context(|| format!("writing {}", args.out.display()))?;
        println!("exported {} rows of organisation {} to {} (sha256 {})", done.rows, args.org, args.out.display(), done.sha256);
        Ok(ExitCode::SUCCESS)
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&args.out);
    }
    database.close().await;
    result
}

/// Writes the chunks sent to the returned sender into `file`, then syncs it; the task ends
/// when the sender is dropped (or at the first error).
fn file_writer(file: tokio::fs::File) -> (mpsc::Sender<Result<Bytes, std::io::Error>>, tokio::task::JoinHandle<std::io::Result<()>>) {
    let (sink, mut chunks) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let writer = tokio::spawn(async move {
        let mut file = tokio::io::BufWriter::new(file);
        while let Some(chunk) = chunks.recv().await {
            file.write_all(&chunk?).await?;
        }
        file.flush().await?;
        file.into_inner().sync_all().await
    });
    (sink, writer)
}
