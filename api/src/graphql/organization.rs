//! The organisation's general settings in GraphQL: one patch mutation.

use async_graphql::{Context, InputObject, Object};
use gemba_domain::Timezone;
use gemba_domain::kaizen::Currency;
use gemba_domain::organization::{OrganizationCommand, SettingsPatch};
use rust_decimal::Decimal;

use super::context::{command_context, principal, services, tenant_tx};
use super::errors::{ApiError, ApiResult};
use super::five_s::AuditType;
use super::inputs::optional_reason;
use super::types::{Organization, ReasonCode};
use gemba_projections::registry as reads;

/// A settings patch: only the fields given change.
#[derive(Debug, InputObject)]
pub struct ChangeOrganizationSettingsInput {
    /// ISO-4217 code, e.g. `EUR`.
    pub default_currency: Option<String>,
    /// 1 to 12.
    pub fiscal_year_start_month: Option<i32>,
    /// IANA time zone.
    pub default_timezone: Option<String>,
    /// Audit types counted in 5S scores (at least one).
    pub five_s_counted_audit_types: Option<Vec<AuditType>>,
    /// 1 to 3650 days.
    pub five_s_lookback_days: Option<i32>,
    /// Zero or more, in the default currency.
    pub kaizen_verifier_threshold_amount: Option<Decimal>,
    /// 1 to 365 days.
    pub red_tag_hold_days: Option<i32>,
    /// Priority-A acknowledgement window, 1 minute to a week.
    pub a_ack_minutes: Option<i32>,
    /// At least one, each once.
    pub reason_codes: Option<Vec<ReasonCode>>,
    /// Required when scoring (5S), SLA (acknowledgement) or savings (kaizen) settings change.
    pub reason: Option<String>,
    pub reason_code: Option<ReasonCode>,
}

fn count(field: &str, value: Option<i32>) -> ApiResult<Option<u32>> {
    value.map(|v| u32::try_from(v).map_err(|_| ApiError::Validation { field: field.into(), message: "is positive".into() })).transpose()
}

/// Changes of the organisation's settings.
#[derive(Debug, Default)]
pub struct OrganizationMutation;

#[Object]
impl OrganizationMutation {
    /// Patches the organisation's general settings (Owners and Admins); the history lists
    /// only the fields that changed, before and after.
    async fn change_organization_settings(&self, ctx: &Context<'_>, input: ChangeOrganizationSettingsInput) -> ApiResult<Organization> {
        let p = principal(ctx)?;
        let default_timezone = match input.default_timezone.as_deref() {
            Some(raw) => {
                let zone = Timezone::parse("defaultTimezone", raw)?;
                if raw.trim().parse::<chrono_tz::Tz>().is_err() {
                    return Err(ApiError::Validation {
                        field: "defaultTimezone".into(),
                        message: "is not a time zone of the IANA database".into(),
                    });
                }
                Some(zone)
            }
            None => None,
        };
        let default_currency = input
            .default_currency
            .as_deref()
            .map(|raw| {
                Currency::parse(raw)
                    .map_err(|_| ApiError::Validation { field: "defaultCurrency".into(), message: "is not an ISO-4217 code".into() })
            })
            .transpose()?;
        let patch = SettingsPatch {
            default_currency,
            fiscal_year_start_month: count("fiscalYearStartMonth", input.fiscal_year_start_month)?,
            default_timezone,
            five_s_counted_audit_types: input.five_s_counted_audit_types.as_ref().map(|t| t.iter().map(|t| (*t).into()).collect()),
            five_s_lookback_days: count("fiveSLookbackDays", input.five_s_lookback_days)?,
            kaizen_verifier_threshold_amount: input.kaizen_verifier_threshold_amount,
            red_tag_hold_days: count("redTagHoldDays", input.red_tag_hold_days)?,
            a_ack_minutes: count("aAckMinutes", input.a_ack_minutes)?,
            reason_codes: input.reason_codes.as_ref().map(|c| c.iter().map(|c| (*c).into()).collect()),
        };
        let reason = optional_reason(input.reason_code, input.reason.as_deref())?;
        let command = command_context(ctx, p.org, Some(p), &input)?;
        services(ctx)?.gemba.on_organization(&command, |actor| OrganizationCommand::ChangeSettings { actor, patch, reason }).await?;
        let mut tx = tenant_tx(ctx).await?;
        reads::organization(&mut tx, p.org.uuid()).await?.map(Organization).ok_or(ApiError::NotFound)
    }
}
