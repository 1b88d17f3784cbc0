//! `tradehook template tradingview SOURCE`: the webhook URL and alert message to paste
//! into TradingView for a configured `tradingview` source.

use clap::{Args, ValueEnum};

use crate::config::{AuthKind, Config};
use crate::formats::{template, Format};

/// Which platform's template to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Platform {
    /// A TradingView alert (webhook URL + message).
    Tradingview,
}

/// `template` arguments.
#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// The platform.
    #[arg(value_enum)]
    pub platform: Platform,
    /// A configured source with the platform's format.
    pub source: String,
    /// The public base URL TradingView reaches the service at (HTTPS on port 443);
    /// default: from server.listen.
    #[arg(long)]
    pub url: Option<String>,
}

/// Prints the template, or says why the source does not fit it.
pub fn run(config: &Config, args: TemplateArgs) -> anyhow::Result<()> {
    let Platform::Tradingview = args.platform;
    let source = config.source(&args.source).ok_or_else(|| {
        anyhow::anyhow!(
            "no source named {:?} in the configuration",
            crate::formats::text::loggable(&args.source)
        )
    })?;
    anyhow::ensure!(
        source.format == Format::Tradingview,
        "source {:?} has format = \"{}\"; set format = \"tradingview\" for TradingView alerts",
        source.name,
        source.format.as_str()
    );
    let base = args.url.unwrap_or_else(|| super::base_url(config));
    print!("{}", template::tradingview(&source.name, &base));
    if source.auth == AuthKind::Hmac {
        eprintln!(
            "note: source {:?} uses auth = \"hmac\", which TradingView cannot sign; use \
             auth = \"token\" (the secret goes in the message)",
            source.name
        );
    }
    Ok(())
}
