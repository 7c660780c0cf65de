//! The deployment's Ed25519 signing key: it signs chain checkpoints and export manifests so
//! an auditor holding only the public key can check them offline.
//!
//! Every signed message starts with a purpose label (`gemba-checkpoint:v1`,
//! `gemba-export-manifest:v1`), so a signature for one purpose never verifies for another.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Errors of keys and signatures.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// The signing key is not 32 bytes of base64.
    #[error("the signing key must be 32 bytes, base64-encoded")]
    BadSigningKey,
    /// The public key is not 32 bytes of base64, or not a valid Ed25519 point.
    #[error("the public key must be an Ed25519 key: 32 bytes, base64-encoded")]
    BadPublicKey,
    /// The signature is malformed or does not verify.
    #[error("the signature does not verify")]
    BadSignature,
}

/// The deployment's signing key. Never logged.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.key_id())
    }
}

impl Signer {
    /// Reads a signing key: its 32-byte seed, base64.
    pub fn from_base64(text: &str) -> Result<Self, SigningError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| SigningError::BadSigningKey)?;
        let seed = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| SigningError::BadSigningKey)?;
        Ok(Self { key: SigningKey::from_bytes(&seed) })
    }

    /// A new random signing key (its seed, base64), for first-time set-up.
    pub fn generate_base64() -> String {
        let mut seed = [0; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        STANDARD.encode(seed)
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.key.verifying_key())
    }

    /// The public key's id (see [`PublicKey::id`]).
    pub fn key_id(&self) -> String {
        self.public_key().id()
    }

    /// Signs `message`; the signature in base64.
    pub fn sign(&self, message: &[u8]) -> String {
        STANDARD.encode(self.key.sign(message).to_bytes())
    }
}

/// An Ed25519 public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Reads a public key: 32 bytes, base64 (surrounding white space ignored).
    pub fn from_base64(text: &str) -> Result<Self, SigningError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| SigningError::BadPublicKey)?;
        let bytes = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| SigningError::BadPublicKey)?;
        VerifyingKey::from_bytes(&bytes).map(Self).map_err(|_| SigningError::BadPublicKey)
    }

    /// The key in base64.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.to_bytes())
    }

    /// A short id of the key: the first 8 bytes of its sha256, hex.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.0.to_bytes())[..8])
    }

    /// Checks a base64 signature of `message` (strict verification: no malleable forms).
    pub fn verify(&self, message: &[u8], signature: &str) -> Result<(), SigningError> {
        let bytes = STANDARD.decode(signature.trim()).map_err(|_| SigningError::BadSignature)?;
        let signature = Signature::from_slice(&bytes).map_err(|_| SigningError::BadSignature)?;
        self.0.verify_strict(message, &signature).map_err(|_| SigningError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_message_and_key() {
        let signer = Signer::from_base64(&Signer::generate_base64()).unwrap();
        let signature = signer.sign(b"hello");
        let public = PublicKey::from_base64(&signer.public_key().to_base64()).unwrap();
        assert_eq!(public.verify(b"hello", &signature), Ok(()));
        assert_eq!(public.verify(b"hellp", &signature), Err(SigningError::BadSignature));
        let other = Signer::from_base64(&Signer::generate_base64()).unwrap();
        assert_eq!(other.public_key().verify(b"hello", &signature), Err(SigningError::BadSignature));
        assert_eq!(public.verify(b"hello", "not base64"), Err(SigningError::BadSignature));
        assert_eq!(signer.key_id().len(), 16);
        assert_ne!(signer.key_id(), other.key_id());
    }

    #[test]
    fn keys_must_be_32_bytes() {
        assert!(Signer::from_base64("c2hvcnQ=").is_err());
        assert!(PublicKey::from_base64("c2hvcnQ=").is_err());
    }
}
