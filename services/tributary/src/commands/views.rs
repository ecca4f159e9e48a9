//! `tributary views rebuild <service>`: rebuild a service's view from its
//! topics into a shadow copy and verify it row by row against the live view
//! (see `ops::rebuild`). With `--switch`, a copy that matches becomes the live
//! view atomically. The flag is `--switch` rather than `--execute` (the
//! `groups reset` convention) because a rebuild without it is not a dry run:
//! it does write the shadow copy; only the switch is opt-in.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use tributary_service::{ServiceDefinition, group_id};

use super::groups::ConnectArgs;
use crate::{
    config::{self, PlatformConfig},
    ops::rebuild::{self, RebuildOptions, RebuildTarget},
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
    /// live one (users, orders, inventory, analytics); with --switch, make a
    /// matching copy the live view.
    Rebuild {
        service: String,
        /// The platform configuration file (for the views backend and data
        /// directory; defaults and TRIBUTARY__ env apply without it).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Shadow namespace name (default: a fresh `rb…`).
        #[arg(long)]
        shadow: Option<String>,
        /// After a rebuild that matches the live view table for table,
        /// switch the service to the rebuilt copy atomically. Refused while
        /// the service's consumer group has active members (stop the
        /// service first); on any difference the live view is kept.
        #[arg(long)]
        switch: bool,
    },
}

/// Runs a `views` subcommand.
pub async fn run(args: ViewsArgs) -> anyhow::Result<()> {
    let ViewsCommand::Rebuild {
        service,
        config,
        shadow,
        switch,
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
    let options = RebuildOptions {
        shadow,
        switch,
        quiet: args.connect.json,
    };
    let report = rebuild::rebuild(&cluster, &codec, &views, &target, &options).await?;
    if args.connect.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "rebuilt {} from {} event(s) into shadow `{}` in {:.1}s ({:.0} events/s)",
            report.service,
            report.events,
            report.shadow,
            report.rebuild_seconds,
            report.events_per_second
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
        if report.switched {
            println!("switched: {} now uses the rebuilt copy", report.service);
        } else if switch {
            println!("the live view is unchanged (the copies differ)");
        } else {
            println!("the live view is unchanged; add --switch to make a matching copy live");
        }
    }
    if !report.matches {
        anyhow::bail!(
            "the rebuilt {} view differs from the live one; the live view was kept",
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
            "rebuilding {service} is refused: its projector calls an external system \
             (payment provider / notification channel), so a rebuild would repeat those calls"
        ),
        other => anyhow::bail!(
            "unknown service `{other}` (rebuildable: users, orders, inventory, analytics)"
        ),
    })
}
