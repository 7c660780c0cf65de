//! Passwords and tokens.
//!
//! Passwords are hashed with argon2id at OWASP's parameters (19 MiB, 2 passes, 1 lane).
//! Session and invitation tokens are 256 random bits behind a visible prefix and the
//! organisation id (`gs_<org>_<secret>`, `gi_<org>_<secret>`); only their sha256 is stored.
//! The organisation in the token lets the look-up run under row-level security.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gemba_domain::{OrgId, ValidationError};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A password as typed; never logged or stored.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

impl Password {
    /// Shortest accepted password.
    pub const MIN_CHARS: usize = 10;
    /// Longest accepted password.
    pub const MAX_CHARS: usize = 256;

    /// Checks the length policy.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let n = raw.chars().count();
        if n < Self::MIN_CHARS {
            return Err(ValidationError::new("password", &format!("must be at least {} characters", Self::MIN_CHARS)));
        }
        if n > Self::MAX_CHARS {
            return Err(ValidationError::new("password", &format!("must be at most {} characters", Self::MAX_CHARS)));
        }
        Ok(Self(raw.to_owned()))
    }
}

fn argon2() -> Argon2<'static> {
    // OWASP: argon2id, m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (PHC string). CPU-heavy: call from a blocking task.
pub fn hash_password(password: &Password) -> Result<String, String> {
    let mut salt = [0_u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2().hash_password(password.0.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Checks a password against a stored hash; `None` as hash still spends the same work,
/// so a wrong e-mail address takes as long as a wrong password. CPU-heavy.
pub fn verify_password(stored: Option<&str>, candidate: &str) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password(&Password("not a real password".into())).unwrap_or_default());
    let hash = stored.unwrap_or(dummy);
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    argon2().verify_password(candidate.as_bytes(), &parsed).is_ok() && stored.is_some()
}

/// What a token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A signed-in session.
    Session,
    /// A single-use invitation.
    Invitation,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::Session => "gs",
            Self::Invitation => "gi",
        }
    }
}

/// A freshly issued token: give `token` to the client, store `hash`.
#[derive(Debug)]
pub struct IssuedToken {
    /// The secret, shown once.
    pub token: String,
    /// sha256 of the token.
    pub hash: Vec<u8>,
}

/// Issues a random token for `org`.
pub fn issue(kind: TokenKind, org: OrgId) -> IssuedToken {
    let mut secret = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let token = format!("{}_{}_{}", kind.prefix(), org.uuid().simple(), URL_SAFE_NO_PAD.encode(secret));
    let hash = token_hash(&token);
    IssuedToken { token, hash }
}

/// sha256 of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The organisation a token belongs to and its hash, if it is shaped like a `kind` token.
pub fn parse(kind: TokenKind, token: &str) -> Option<(OrgId, Vec<u8>)> {
    let mut parts = token.splitn(3, '_');
    let (prefix, org, secret) = (parts.next()?, parts.next()?, parts.next()?);
    if prefix != kind.prefix() || secret.len() != 43 || URL_SAFE_NO_PAD.decode(secret).is_err() {
        return None;
    }
    let org = Uuid::try_parse(org).ok()?;
    Some((OrgId(org), token_hash(token)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let hash = hash_password(&Password("correct horse battery".into())).unwrap_or_default();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(Some(&hash), "correct horse battery"));
        assert!(!verify_password(Some(&hash), "correct horse battery!"));
        assert!(!verify_password(None, "correct horse battery"));
    }

    #[test]
    fn passwords_have_a_length_policy() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(257)).is_err());
        assert!(Password::parse("long enough pw").is_ok());
    }

    #[test]
    fn tokens_round_trip_and_are_typed() {
        let org = OrgId(Uuid::now_v7());
        let issued = issue(TokenKind::Session, org);
        assert_eq!(parse(TokenKind::Session, &issued.token), Some((org, issued.hash.clone())));
        assert_eq!(parse(TokenKind::Invitation, &issued.token), None);
        assert_eq!(parse(TokenKind::Session, "gs_nothing_here"), None);
        assert_ne!(issue(TokenKind::Session, org).token, issued.token);
    }
}
