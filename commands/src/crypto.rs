//! Envelope encryption of personal data.
//!
//! Personal values in events (names, e-mail addresses) are sealed with AES-256-GCM under a
//! per-person key. Person keys are stored wrapped by the organisation's key, which is
//! stored wrapped by the application key from configuration. The associated data binds a
//! ciphertext to its organisation and person, so it cannot be moved elsewhere. Forgetting a
//! person deletes their key ("crypto-shredding"); the events keep their ciphertext and the
//! hash chain, which covers the ciphertext, still verifies.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gemba_domain::{MemberId, OrgId, Sealed};
use rand::RngCore;
use sqlx::PgConnection;

const NONCE_LEN: usize = 12;

/// Errors of the key hierarchy.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The application key is not 32 bytes of base64.
    #[error("the application key must be 32 bytes, base64-encoded")]
    BadAppKey,
    /// A ciphertext or wrapped key does not decrypt (wrong key, tampering).
    #[error("a ciphertext does not decrypt with its key")]
    Undecryptable,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A 256-bit key.
#[derive(Clone)]
struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    fn random() -> Self {
        let mut bytes = [0; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new((&self.0).into());
        let mut nonce = [0; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce only fails for plaintexts beyond 64 GiB.
        let ciphertext = cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad }).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        out
    }

    fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::Undecryptable);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        Aes256Gcm::new((&self.0).into())
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad })
            .map_err(|_| CryptoError::Undecryptable)
    }

    fn unwrap_key(&self, wrapped: &[u8], aad: &[u8]) -> Result<Key, CryptoError> {
        let bytes = self.open(wrapped, aad)?;
        <[u8; 32]>::try_from(bytes.as_slice()).map(Key).map_err(|_| CryptoError::Undecryptable)
    }
}

fn org_aad(org: OrgId) -> Vec<u8> {
    [b"gemba-org-key:".as_slice(), org.uuid().as_bytes()].concat()
}

fn person_aad(org: OrgId, person: MemberId) -> Vec<u8> {
    [b"gemba-person:".as_slice(), org.uuid().as_bytes(), person.uuid().as_bytes()].concat()
}

/// The application key, from configuration. Never logged.
#[derive(Clone, Debug)]
pub struct Keyring {
    app_key: Key,
}

impl Keyring {
    /// Reads the application key: 32 bytes, base64.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| CryptoError::BadAppKey)?;
        let key = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| CryptoError::BadAppKey)?;
        Ok(Self { app_key: Key(key) })
    }

    /// A 256-bit key for one `purpose` (e.g. signing download links), derived from the
    /// application key with HMAC-SHA256 so the application key itself is used only to wrap.
    pub fn derive(&self, purpose: &str) -> Result<[u8; 32], CryptoError> {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.app_key.0).map_err(|_| CryptoError::BadAppKey)?;
        mac.update(b"gemba-derive:");
        mac.update(purpose.as_bytes());
        Ok(mac.finalize().into_bytes().into())
    }

    /// A new random application key, base64, for first-time set-up.
    pub fn generate_base64() -> String {
        STANDARD.encode(Key::random().0)
    }

    async fn org_key(&self, conn: &mut PgConnection, org: OrgId) -> Result<Option<Key>, CryptoError> {
        let wrapped: Option<Vec<u8>> =
            sqlx::query_scalar("select wrapped_key from org_keys where org_id = $1").bind(org.uuid()).fetch_optional(&mut *conn).await?;
        wrapped.map(|w| self.app_key.unwrap_key(&w, &org_aad(org))).transpose()
    }

    async fn org_key_or_create(&self, conn: &mut PgConnection, org: OrgId) -> Result<Key, CryptoError> {
        if let Some(key) = self.org_key(conn, org).await? {
            return Ok(key);
        }
        let key = Key::random();
        sqlx::query("insert into org_keys (org_id, wrapped_key) values ($1, $2)")
            .bind(org.uuid())
            .bind(self.app_key.seal(&key.0, &org_aad(org)))
            .execute(&mut *conn)
            .await?;
        Ok(key)
    }

    /// A key for a new person, in memory until [`NewPersonKey::store`] saves it in the
    /// transaction that appends the events using it.
    pub fn new_person_key(&self, org: OrgId, person: MemberId) -> NewPersonKey {
        NewPersonKey { org, person, key: Key::random() }
    }

    /// Seals `value` with an existing person's key; `None` when the key was shredded.
    pub async fn seal_for(
        &self,
        conn: &mut PgConnection,
        org: OrgId,
        person: MemberId,
        value: &str,
    ) -> Result<Option<Sealed>, CryptoError> {
        let keys = self.person_keys(conn, org, &[person]).await?;
        Ok(keys.get(&person).map(|key| seal_with(key, org, person, value)))
    }

    async fn person_keys(&self, conn: &mut PgConnection, org: OrgId, people: &[MemberId]) -> Result<HashMap<MemberId, Key>, CryptoError> {
        let Some(org_key) = self.org_key(conn, org).await? else {
            return Ok(HashMap::new());
        };
        let ids: Vec<uuid::Uuid> = people.iter().map(|p| p.uuid()).collect();
        let rows: Vec<(uuid::Uuid, Vec<u8>)> =
            sqlx::query_as("select person_id, wrapped_key from person_keys where org_id = $1 and person_id = any($2)")
                .bind(org.uuid())
                .bind(&ids)
                .fetch_all(&mut *conn)
                .await?;
        rows.into_iter()
            .map(|(id, wrapped)| {
                let person = MemberId(id);
                Ok((person, org_key.unwrap_key(&wrapped, &person_aad(org, person))?))
            })
            .collect()
    }

    /// Opens many sealed values with one key look-up. A value whose key was shredded
    /// opens as `None` (shown as erased).
    pub async fn open_all(&self, conn: &mut PgConnection, org: OrgId, sealed: &[&Sealed]) -> Result<Vec<Option<String>>, CryptoError> {
        let mut people: Vec<MemberId> = sealed.iter().map(|s| s.key).collect();
        people.sort();
        people.dedup();
        let keys = self.person_keys(conn, org, &people).await?;
        sealed
            .iter()
            .map(|s| match keys.get(&s.key) {
                None => Ok(None),
                Some(key) => {
                    let bytes = STANDARD.decode(&s.ct).map_err(|_| CryptoError::Undecryptable)?;
                    let plain = key.open(&bytes, &person_aad(org, s.key))?;
                    String::from_utf8(plain).map(Some).map_err(|_| CryptoError::Undecryptable)
                }
            })
            .collect()
    }
}

/// Shreds `person`'s key (crypto-shredding): every value sealed for them, in any event,
/// opens as `None` from now on. Runs in the transaction that records the erasure.
pub async fn shred_person_key(conn: &mut PgConnection, org: OrgId, person: MemberId) -> Result<(), CryptoError> {
    sqlx::query("delete from person_keys where org_id = $1 and person_id = $2")
        .bind(org.uuid())
        .bind(person.uuid())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A new person's key, not yet stored.
#[derive(Debug)]
pub struct NewPersonKey {
    org: OrgId,
    person: MemberId,
    key: Key,
}

impl NewPersonKey {
    /// Seals a personal value with this key.
    pub fn seal(&self, value: &str) -> Sealed {
        seal_with(&self.key, self.org, self.person, value)
    }

    /// Stores the key, wrapped by the organisation key (created on first use).
    pub async fn store(self, keyring: &Keyring, conn: &mut PgConnection) -> Result<(), CryptoError> {
        let org_key = keyring.org_key_or_create(conn, self.org).await?;
        sqlx::query("insert into person_keys (org_id, person_id, wrapped_key) values ($1, $2, $3)")
            .bind(self.org.uuid())
            .bind(self.person.uuid())
            .bind(org_key.seal(&self.key.0, &person_aad(self.org, self.person)))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

fn seal_with(key: &Key, org: OrgId, person: MemberId, value: &str) -> Sealed {
    Sealed { key: person, ct: STANDARD.encode(key.seal(value.as_bytes(), &person_aad(org, person))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_context() {
        let key = Key::random();
        let sealed = key.seal(b"Ann", b"ctx");
        assert_eq!(key.open(&sealed, b"ctx").ok(), Some(b"Ann".to_vec()));
        assert!(key.open(&sealed, b"other").is_err());
        assert!(Key::random().open(&sealed, b"ctx").is_err());
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(key.open(&tampered, b"ctx").is_err());
    }

    #[test]
    fn the_app_key_must_be_32_bytes() {
        assert!(Keyring::from_base64(&Keyring::generate_base64()).is_ok());
        assert!(Keyring::from_base64("c2hvcnQ=").is_err());
        assert!(Keyring::from_base64("not base64!").is_err());
    }
}
