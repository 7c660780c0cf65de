//! One newtype per entity kind, so a `ZoneId` can never be passed as a `SiteId`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

use crate::error::ValidationError;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $label:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Wraps an existing UUID.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            /// The underlying UUID.
            pub const fn uuid(self) -> Uuid {
                self.0
            }
            /// Parses an id received at the edge; a malformed id is a validation error.
            pub fn parse(text: &str) -> Result<Self, ValidationError> {
                Uuid::parse_str(text.trim())
                    .map(Self)
                    .map_err(|_| ValidationError::new($label, "is not a valid id"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

typed_id!(
    /// An organisation (tenant).
    OrgId, "organizationId");
typed_id!(
    /// A membership of a person in one organisation; also the person key id.
    MemberId, "memberId");
typed_id!(
    /// A login identity (credentials) inside one organisation.
    AccountId, "accountId");
typed_id!(
    /// An invitation to join an organisation.
    InvitationId, "invitationId");
typed_id!(
    /// A plant site.
    SiteId, "siteId");
typed_id!(
    /// A zone of a site.
    ZoneId, "zoneId");
typed_id!(
    /// An abnormality tag (defect).
    DefectId, "defectId");
typed_id!(
    /// A 5S audit template (checklist), across its versions.
    TemplateId, "templateId");
typed_id!(
    /// One 5S audit of one zone.
    AuditId, "auditId");
typed_id!(
    /// An improvement idea (kaizen).
    KaizenId, "kaizenId");
typed_id!(
    /// An A3 problem-solving case.
    A3Id, "a3Id");
typed_id!(
    /// An area, line or cell of a site.
    AreaId, "areaId");
typed_id!(
    /// A red-tagged item (5S Sort).
    RedTagId, "redTagId");
