//! `tradehook audit`: the recorded orders, read straight from the database (works
//! whether or not the service is running).

use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use crate::config::Config;
use crate::http::export::{csv_row, CSV_COLUMNS};
use crate::http::orders::ListQuery;
use crate::store::orders::{self, OrderRecord};
use crate::store::Store;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    Table,
    Json,
    Csv,
}

/// Arguments of `audit`: the filters of `GET /v1/orders`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this status (pending, unknown, placed, partially_filled, filled, canceled,
    /// validated, failed, expired, rejected).
    #[arg(long)]
    pub status: Option<String>,
    /// Only this pair, in any spelling signals may use (`XBTUSD`, `BTC/USD`).
    #[arg(long)]
    pub pair: Option<String>,
    #[arg(long)]
    pub source: Option<String>,
    #[arg(long)]
    pub strategy: Option<String>,
    /// Only orders created at or after this RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Only orders created before this RFC 3339 time.
    #[arg(long)]
    pub until: Option<String>,
    /// How many orders at most (1–1000).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    pub format: AuditFormat,
    /// Print the positions and realised P&L from fills (as `GET /v1/positions`), JSON.
    #[arg(long, conflicts_with = "stats")]
    pub positions: bool,
    /// Print the execution statistics (as `GET /v1/stats`; `--since` sets the
    /// window, default 24 hours), JSON.
    #[arg(long)]
    pub stats: bool,
}

/// Prints positions or statistics as JSON.
async fn run_execution_view(config: &Config, args: &AuditArgs) -> anyhow::Result<()> {
    let since = match args.since.as_deref() {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .with_context(|| format!("--since `{text}` is not an RFC 3339 time"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now() - chrono::Duration::hours(24),
    };
    let store = Store::open(&config.database, Arc::new(crate::clock::SystemClock))
        .await
        .with_context(|| format!("opening {}", config.database.url))?;
    let shown = if args.positions {
        let fills = crate::fills::positions::load(store.reader()).await;
        fills.map(|f| serde_json::to_string_pretty(&crate::fills::positions::compute(&f)))
    } else {
        let stats = crate::fills::stats::load(store.reader(), since).await;
        stats.map(|s| serde_json::to_string_pretty(&s))
    };
    store.close().await;
    println!("{}", shown??);
    Ok(())
}

/// Prints the matching orders.
pub async fn run(config: &Config, args: AuditArgs) -> anyhow::Result<()> {
    if args.positions || args.stats {
        return run_execution_view(config, &args).await;
    }
    let query = ListQuery {
        status: args.status,
        pair: args.pair,
        source: args.source,
        strategy: args.strategy,
        since: args.since,
        until: args.until,
        limit: Some(args.limit.to_string()),
        ..ListQuery::default()
    };
    let limit = query.limit().map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = Store::open(&config.database, Arc::new(crate::clock::SystemClock))
        .await
        .with_context(|| format!("opening {}", config.database.url))?;
    // The pair table the service last fetched, else the built-in one: `--pair` takes
    // the spellings signals may use.
    let table = match crate::store::pair_cache::load(&store).await {
        Ok(Some((table, _))) => table,
        _ => crate::pairs::PairTable::snapshot(),
    };
    let filter = match query.filter(&table) {
        Ok(filter) => filter,
        Err(e) => {
            store.close().await;
            anyhow::bail!("{e}");
        }
    };
    let found = orders::list(store.reader(), &filter, limit).await?;
    store.close().await;
    match args.format {
        AuditFormat::Json => println!("{}", serde_json::to_string_pretty(&found)?),
        AuditFormat::Csv => {
            let mut out = csv::Writer::from_writer(std::io::stdout());
            out.write_record(CSV_COLUMNS)?;
            for order in &found {
                out.write_record(csv_row(order))?;
            }
            out.flush()?;
        }
        AuditFormat::Table => print_table(&found),
    }
    Ok(())
}

fn print_table(found: &[OrderRecord]) {
    println!(
        "{:<20} {:<36} {:<12} {:<9} {:<4} {:<12} {:>14} {:>12} {:<20} ERROR/REASONS",
        "CREATED",
        "CLIENT ORDER ID",
        "SOURCE",
        "PAIR",
        "SIDE",
        "TYPE",
        "VOLUME",
        "PRICE",
        "STATUS / TXID"
    );
    for order in found {
        let dec = |v: Option<rust_decimal::Decimal>| {
            v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
        };
        let status = match &order.txid {
            Some(txid) => format!("{} {txid}", order.status),
            None => order.status.to_string(),
        };
        let problem = match (&order.error, order.reasons.as_array()) {
            (Some(error), _) => error.clone(),
            (None, Some(reasons)) if !reasons.is_empty() => order.reasons.to_string(),
            _ => String::new(),
        };
        println!(
            "{:<20} {:<36} {:<12} {:<9} {:<4} {:<12} {:>14} {:>12} {:<20} {problem}",
            order.created_at.format("%Y-%m-%d %H:%M:%S"),
            order.client_order_id,
            order.source,
            order.pair,
            order.side.as_str(),
            order.order_type.as_str(),
            dec(order.volume),
            dec(order.price),
            status,
        );
    }
    if found.is_empty() {
        println!("(no orders match)");
    }
}
