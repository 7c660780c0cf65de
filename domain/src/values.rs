//! Value objects, parsed at the edge: once constructed, a value is valid.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::ValidationError;
use crate::ids::MemberId;

fn clean_text(field: &str, raw: &str, max_chars: usize) -> Result<String, ValidationError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if text.chars().count() > max_chars {
        return Err(ValidationError::new(field, &format!("must be at most {max_chars} characters")));
    }
    if text.chars().any(|c| c.is_control()) {
        return Err(ValidationError::new(field, "must not contain control characters"));
    }
    Ok(text.to_owned())
}

macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Longest accepted value, in characters.
            pub const MAX_CHARS: usize = $max;

            /// Trims and checks the value; `field` names it in the error.
            pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
                clean_text(field, raw, Self::MAX_CHARS).map(Self)
            }
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_value!(
    /// The name of an organisation, site or zone.
    Name, 200);
text_value!(
    /// A longer free text: descriptions, countermeasures, notes.
    LongText, 10_000);
text_value!(
    /// How a person is shown to others. Personal data: stored in events only sealed.
    DisplayName, 100);

/// A short code (site or zone code): letters, digits, `-`, `_`, `.`; kept upper-case so
/// that uniqueness does not depend on case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Code(String);

impl Code {
    /// Longest accepted code.
    pub const MAX_CHARS: usize = 32;

    /// Checks and normalises a code.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        let text = clean_text(field, raw, Self::MAX_CHARS)?;
        if !text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
            return Err(ValidationError::new(field, "may contain only letters, digits, '-', '_' and '.'"));
        }
        Ok(Self(text.to_ascii_uppercase()))
    }
    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address, lower-cased. Personal data: stored in events only sealed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Checks the shape `local@domain.tld` (no spaces, one `@`, at most 254 characters).
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        let text = clean_text(field, raw, 254)?.to_lowercase();
        let invalid = || ValidationError::new(field, "is not a valid e-mail address");
        let (local, domain) = text.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@');
        if local.is_empty() || !domain_ok || text.chars().any(char::is_whitespace) {
            return Err(invalid());
        }
        Ok(Self(text))
    }
    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IANA time-zone name such as `Europe/Berlin` or `UTC` (syntax checked here; the API
/// also checks the name against the time-zone database).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timezone(String);

impl Default for Timezone {
    /// UTC.
    fn default() -> Self {
        Self("UTC".to_owned())
    }
}

impl Timezone {
    /// Checks the syntax of an IANA zone name.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        let text = clean_text(field, raw, 64)?;
        let ok =
            text.split('/').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+')));
        if !ok {
            return Err(ValidationError::new(field, "is not an IANA time zone name"));
        }
        Ok(Self(text))
    }
    /// The zone name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Roles inside an organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Everything, including billing, retention, legal hold and the Owner role.
    Owner,
    /// Settings, plant structure, membership (not Owner).
    Admin,
    /// Lean work: defects, kaizens, A3s, audits.
    Member,
    /// Read-only and export (compliance).
    Auditor,
}

/// Organisation-configurable reason codes (reference/domain.md §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// A typing or data-entry mistake is corrected.
    DataEntryError,
    /// The thing is classified differently.
    Reclassification,
    /// The scope of the work changed.
    ScopeChange,
    /// The record duplicates another one.
    Duplicate,
    /// A customer asked for it.
    CustomerRequest,
    /// Anything else; the text says what.
    Other,
}

/// Why a change was made: required after lock and for role, classification, date and score changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// The reason code.
    pub code: ReasonCode,
    /// Free text, 1 to 2000 characters.
    pub text: String,
}

impl Reason {
    /// Longest accepted reason text.
    pub const MAX_CHARS: usize = 2000;

    /// Checks the reason text.
    pub fn parse(code: ReasonCode, text: &str) -> Result<Self, ValidationError> {
        Ok(Self { code, text: clean_text("reason", text, Self::MAX_CHARS)? })
    }
}

/// A reference to an evidence file: the sha256 of its content, lower-case hex.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EvidenceRef(String);

impl EvidenceRef {
    /// Checks that `raw` is 64 hexadecimal digits.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        let text = raw.trim().to_ascii_lowercase();
        if text.len() != 64 || !text.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ValidationError::new(field, "is not the sha256 of an evidence file"));
        }
        Ok(Self(text))
    }
    /// The hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Personal data sealed with the person's key (AES-256-GCM, base64 of nonce || ciphertext).
/// The domain never sees the plaintext of a sealed value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// Whose key sealed it: the member (person) id.
    pub key: MemberId,
    /// base64(nonce || ciphertext || tag).
    pub ct: String,
}

/// The serialised name of a unit enum variant (e.g. `"IN_PROGRESS"`, `"A"`), the spelling
/// read models and registry tables store; `None` for a value that is not a plain name.
pub fn wire_name(value: &impl Serialize) -> Option<String> {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("name", "  Press shop ").map(|n| n.to_string()), Ok("Press shop".into()));
        assert!(Name::parse("name", "   ").is_err());
        assert!(Name::parse("name", &"x".repeat(201)).is_err());
        assert!(Name::parse("name", "a\u{0}b").is_err());
    }

    #[test]
    fn codes_are_upper_cased_and_restricted() {
        assert_eq!(Code::parse("code", "z-01").map(|c| c.to_string()), Ok("Z-01".into()));
        assert!(Code::parse("code", "zone 1").is_err());
    }

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        assert_eq!(Email::parse("email", "Ann@Plant.Example").map(|e| e.as_str().to_owned()), Ok("ann@plant.example".into()));
        for bad in ["ann", "@plant.example", "ann@plant", "ann@.example", "a b@plant.example"] {
            assert!(Email::parse("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timezones_must_look_like_iana_names() {
        assert!(Timezone::parse("timezone", "Europe/Berlin").is_ok());
        assert!(Timezone::parse("timezone", "UTC").is_ok());
        assert!(Timezone::parse("timezone", "Europe//Berlin").is_err());
        assert!(Timezone::parse("timezone", "drop table").is_err());
    }
}
