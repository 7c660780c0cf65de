//! The commands that record audit-trail exports in the organisation's stream.

use gemba_domain::export::{Export, ExportCommand};

use crate::bus::Position;
use crate::envelope::CommandContext;
use crate::error::CommandError;
use crate::service::Gemba;

impl Gemba {
    /// Records a step of export `export_id`: its request (before any row is sent) or its completion.
    pub async fn record_export(
        &self,
        ctx: &CommandContext,
        export_id: uuid::Uuid,
        command: ExportCommand,
    ) -> Result<Position, CommandError> {
        self.bus.execute::<Export>(ctx, &export_id.to_string(), command).await
    }
}
