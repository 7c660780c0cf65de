//! Evidence files: photos and documents attached to defects, audits and kaizens.
//!
//! A file is stored once per organisation under its sha256 (content addressing); its
//! stream (id = the hex digest) records who uploaded it first. Events of other aggregates
//! reference files by [`EvidenceRef`], never by a path or URL.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::audit::{Audited, Change};
use crate::error::{DomainError, Outcome, ValidationError};
use crate::ids::MemberId;
use crate::values::{EvidenceRef, Reason};

/// The media types accepted as evidence. Each is checked against the file's first bytes,
/// so a declared type cannot disguise another kind of content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaType {
    /// `image/jpeg`
    Jpeg,
    /// `image/png`
    Png,
    /// `image/webp`
    Webp,
    /// `image/gif`
    Gif,
    /// `image/heic` (phone cameras)
    Heic,
    /// `application/pdf`
    Pdf,
    /// `video/mp4`
    Mp4,
}

impl MediaType {
    /// Every accepted type.
    pub const ALL: [Self; 7] = [Self::Jpeg, Self::Png, Self::Webp, Self::Gif, Self::Heic, Self::Pdf, Self::Mp4];

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
            Self::Heic => "image/heic",
            Self::Pdf => "application/pdf",
            Self::Mp4 => "video/mp4",
        }
    }

    /// Parses a `Content-Type` value (parameters such as `; charset=` are ignored).
    pub fn parse(field: &str, content_type: &str) -> Result<Self, ValidationError> {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        let essence = if essence == "image/jpg" { "image/jpeg".to_owned() } else { essence };
        Self::ALL.into_iter().find(|t| t.mime() == essence).ok_or_else(|| {
            let accepted = Self::ALL.map(Self::mime).join(", ");
            ValidationError::new(field, &format!("is not an accepted evidence type (accepted: {accepted})"))
        })
    }

    /// Whether `bytes` start the way a file of this type does.
    pub fn matches(self, bytes: &[u8]) -> bool {
        let ftyp = |brands: &[&[u8]]| bytes.get(4..8) == Some(b"ftyp") && bytes.get(8..12).is_some_and(|b| brands.contains(&b));
        match self {
            Self::Jpeg => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            Self::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            Self::Webp => bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP"),
            Self::Gif => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
            Self::Heic => ftyp(&[b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"]),
            Self::Pdf => bytes.starts_with(b"%PDF-"),
            Self::Mp4 => ftyp(&[b"isom", b"iso2", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash"]),
        }
    }

    /// A file name extension for downloads.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Gif => "gif",
            Self::Heic => "heic",
            Self::Pdf => "pdf",
            Self::Mp4 => "mp4",
        }
    }
}

/// State of one evidence file in one organisation.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct EvidenceFile {
    file: Option<EvidenceRef>,
}

impl EvidenceFile {
    /// Whether the file was uploaded.
    pub fn exists(&self) -> bool {
        self.file.is_some()
    }
}

/// Commands on an evidence file.
#[derive(Clone, Debug)]
pub enum EvidenceCommand {
    /// A member records the upload of a stored file; a second upload of the same bytes
    /// records nothing (the file is already there).
    RecordUpload { actor: Actor, sha256: EvidenceRef, media_type: MediaType, size_bytes: u64 },
}

/// Events of an evidence file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EvidenceEvent {
    /// The file was uploaded and stored.
    EvidenceUploaded { sha256: EvidenceRef, media_type: MediaType, size_bytes: u64, uploaded_by: MemberId },
}

impl DomainEvent for EvidenceEvent {
    fn event_type(&self) -> String {
        match self {
            Self::EvidenceUploaded { .. } => "EvidenceUploaded".to_owned(),
        }
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl Audited for EvidenceEvent {
    fn changes(&self) -> Vec<Change> {
        match self {
            Self::EvidenceUploaded { sha256, media_type, size_bytes, .. } => vec![
                Change::created("sha256", sha256),
                Change::created("mediaType", media_type.mime()),
                Change::created("sizeBytes", size_bytes),
            ],
        }
    }
    fn reason(&self) -> Option<&Reason> {
        None
    }
}

impl Aggregate for EvidenceFile {
    const TYPE: &'static str = "EvidenceFile";
    type Command = EvidenceCommand;
    type Event = EvidenceEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Outcome {
        match command {
            EvidenceCommand::RecordUpload { actor, sha256, media_type, size_bytes } => {
                actor.require_mutator()?;
                if size_bytes == 0 {
                    return Err(ValidationError::new("file", "is empty").into());
                }
                if self.file.is_none() {
                    sink.write(EvidenceEvent::EvidenceUploaded { sha256, media_type, size_bytes, uploaded_by: actor.member_id }, self)
                        .await;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            EvidenceEvent::EvidenceUploaded { sha256, .. } => self.file = Some(sha256),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::Role;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type Given = TestFramework<EvidenceFile>;

    fn actor(role: Role) -> Actor {
        Actor { member_id: MemberId(Uuid::from_u128(7)), role }
    }
    fn sha() -> EvidenceRef {
        EvidenceRef::parse("sha256", &"ab".repeat(32)).unwrap_or_else(|e| panic!("{e}"))
    }
    fn upload(role: Role, size_bytes: u64) -> EvidenceCommand {
        EvidenceCommand::RecordUpload { actor: actor(role), sha256: sha(), media_type: MediaType::Png, size_bytes }
    }
    fn uploaded() -> EvidenceEvent {
        EvidenceEvent::EvidenceUploaded {
            sha256: sha(),
            media_type: MediaType::Png,
            size_bytes: 10,
            uploaded_by: actor(Role::Member).member_id,
        }
    }

    #[test]
    fn a_member_uploads_a_file() {
        Given::with(()).given_no_previous_events().when(upload(Role::Member, 10)).then_expect_events(vec![uploaded()]);
    }

    #[test]
    fn the_same_bytes_uploaded_again_record_nothing() {
        Given::with(()).given(vec![uploaded()]).when(upload(Role::Admin, 10)).then_expect_events(vec![]);
    }

    #[test]
    fn auditors_do_not_upload() {
        let result = Given::with(()).given_no_previous_events().when(upload(Role::Auditor, 10)).inspect_result();
        assert!(matches!(result, Err(DomainError::Forbidden(_))));
    }

    #[test]
    fn an_empty_file_is_refused() {
        let result = Given::with(()).given_no_previous_events().when(upload(Role::Member, 0)).inspect_result();
        assert!(matches!(result, Err(DomainError::Invalid(_))));
    }

    #[test]
    fn media_types_are_parsed_from_content_type_headers() {
        assert_eq!(MediaType::parse("t", "image/PNG; charset=binary").ok(), Some(MediaType::Png));
        assert_eq!(MediaType::parse("t", "image/jpg").ok(), Some(MediaType::Jpeg));
        assert!(MediaType::parse("t", "text/html").is_err());
        assert!(MediaType::parse("t", "").is_err());
    }

    #[test]
    fn content_must_match_the_declared_type() {
        assert!(MediaType::Png.matches(b"\x89PNG\r\n\x1a\nrest"));
        assert!(!MediaType::Png.matches(b"<html>"));
        assert!(MediaType::Jpeg.matches(&[0xFF, 0xD8, 0xFF, 0xE0]));
        assert!(MediaType::Pdf.matches(b"%PDF-1.7"));
        assert!(!MediaType::Pdf.matches(b"%PD"));
        assert!(MediaType::Webp.matches(b"RIFF\0\0\0\0WEBPVP8 "));
        assert!(MediaType::Mp4.matches(b"\0\0\0\x18ftypisom"));
        assert!(MediaType::Heic.matches(b"\0\0\0\x18ftypheic"));
        assert!(!MediaType::Heic.matches(b"\0\0\0\x18ftypisom"));
        assert!(MediaType::Gif.matches(b"GIF89a.."));
    }
}
