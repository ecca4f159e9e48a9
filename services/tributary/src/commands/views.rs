//! `tributary views rebuild <service>`: rebuild a service's view from its
//! topics into a shadow copy and verify it row by row against the live view
//! (see `ops::rebuild`). The switch to the shadow copy is not offered: the
//! views crate cannot swap namespaces atomically yet.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use tributary_service::{ServiceDefinition, group_id};

use super::groups::ConnectArgs;
use crate::{
    config::{self, PlatformConfig},
    ops::rebuild::{self, RebuildTarget},
};

/// Arguments of `tributary views`.
#[derive(Debug, Args)]
pub struct ViewsArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: ViewsCommand,
}

/// The `views` subcommands.
#[derive(Debug, Subcommand)]
pub enum ViewsCommand {
    /// Rebuild a service's view into a shadow copy and compare it with the
    /// live one (users, orders, inventory, analytics).
    Rebuild {
        service: String,
        /// The platform configuration file (for the views backend and data
        /// directory; defaults and TRIBUTARY__ env apply without it).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Shadow namespace name (default: a fresh `rb…`).
        #[arg(long)]
        shadow: Option<String>,
    },
}

/// Runs a `views` subcommand.
pub async fn run(args: ViewsArgs) -> anyhow::Result<()> {
    let ViewsCommand::Rebuild {
        service,
        config,
        shadow,
    } = args.command;
    let platform: PlatformConfig = config::load(config.as_deref())?;
    let views = platform.service.views.clone();
    let definition = definition(&service, platform)?;
    let target = RebuildTarget {
        service: definition.name,
        group: group_id(definition.name),
        tables: definition.tables,
        topics: definition.consumes,
        projector: definition
            .projector
            .with_context(|| format!("{service} consumes no events: nothing to rebuild"))?,
    };
    let shadow = shadow.unwrap_or_else(rebuild::fresh_shadow_name);
    let cluster = args.connect.cluster()?;
    let codec = args.connect.codec()?;
    let report = rebuild::rebuild(
        &cluster,
        &codec,
        &views,
        &target,
        &shadow,
        args.connect.json,
    )
    .await?;
    if args.connect.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "rebuilt {} from {} event(s) into shadow `{}`",
            report.service, report.events, report.shadow
        );
        for r in &report.rejected {
            println!("  rejected: {r}");
        }
        for t in &report.tables {
            let state = if t.matches { "same" } else { "DIFFERENT" };
            println!(
                "  {:<32} {state:<9} live {} rows, rebuilt {} rows",
                t.table, t.live_rows, t.rebuilt_rows
            );
            for d in &t.differences {
                println!("    {d}");
            }
            if t.truncated {
                println!("    (more differences not listed)");
            }
        }
        println!(
            "the live view is unchanged (switching to a shadow copy is not supported by the views store yet)"
        );
    }
    if !report.matches {
        anyhow::bail!(
            "the rebuilt {} view differs from the live one",
            report.service
        );
    }
    Ok(())
}

/// The services whose projectors only read the view. Payments calls its
/// payment provider and notifications its channel from `project`, so a
/// rebuild would repeat those calls: refused.
fn definition(service: &str, c: PlatformConfig) -> anyhow::Result<ServiceDefinition> {
    Ok(match service {
        "users" => tributary_users::definition(c.users),
        "orders" => tributary_orders::definition(c.orders),
        "inventory" => tributary_inventory::definition(c.inventory),
        "analytics" => tributary_analytics::definition(c.analytics),
        "payments" | "notifications" => anyhow::bail!(
            "rebuilding {service} would repeat the external calls its projector makes; not supported"
        ),
        other => anyhow::bail!(
            "unknown service `{other}` (rebuildable: users, orders, inventory, analytics)"
        ),
    })
}
