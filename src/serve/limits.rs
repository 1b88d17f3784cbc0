//! Caps on connections held at once: in total, and per client address.
//!
//! A connection over either cap is closed as soon as it is accepted, so one client
//! cannot hold every file descriptor (and with them `/healthz` and every other
//! client's signals). Addresses that many legitimate senders share are exempt from
//! the per-address cap: TradingView's published webhook senders, any source's
//! `allowed_ips` and the configured trusted proxies.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use ipnet::IpNet;

use crate::config::Config;

/// The addresses TradingView sends webhooks from, as it publishes them.
pub const TRADINGVIEW_ADDRESSES: [Ipv4Addr; 4] = [
    Ipv4Addr::new(52, 89, 214, 238),
    Ipv4Addr::new(34, 212, 75, 30),
    Ipv4Addr::new(54, 218, 53, 128),
    Ipv4Addr::new(52, 32, 178, 7),
];

/// Counts of open connections, shared by the accept loop and every connection.
#[derive(Clone)]
pub struct ConnectionLimits {
    inner: Arc<Inner>,
}

struct Inner {
    total_cap: usize,
    per_ip_cap: usize,
    exempt: Vec<IpNet>,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `server.max_connections` are open.
    Total,
    /// `server.max_connections_per_ip` are open from this address.
    PerAddress,
}

/// One open connection's place; freed when dropped.
pub struct Slot {
    limits: ConnectionLimits,
    ip: IpAddr,
}

impl ConnectionLimits {
    /// Caps of `total` and `per_ip` connections, with `exempt` networks free of the
    /// per-address cap.
    pub fn new(total: usize, per_ip: usize, exempt: Vec<IpNet>) -> Self {
        ConnectionLimits {
            inner: Arc::new(Inner {
                total_cap: total,
                per_ip_cap: per_ip,
                exempt,
                counts: Mutex::new(Counts::default()),
            }),
        }
    }

    /// The caps a configuration asks for, with the total lowered to `total_cap`.
    pub fn from_config(config: &Config, total_cap: usize) -> Self {
        let server = &config.server;
        let per_ip = usize::try_from(server.max_connections_per_ip).unwrap_or(usize::MAX);
        ConnectionLimits::new(total_cap, per_ip, exempt_networks(config))
    }

    /// Takes a slot for a connection from `ip`, or says which cap is reached.
    pub fn try_acquire(&self, ip: IpAddr) -> Result<Slot, Refusal> {
        let ip = ip.to_canonical();
        let exempt = self.inner.exempt.iter().any(|net| net.contains(&ip));
        let mut counts = self.lock();
        if counts.total >= self.inner.total_cap {
            return Err(Refusal::Total);
        }
        let from_ip = counts.by_ip.get(&ip).copied().unwrap_or(0);
        if !exempt && from_ip >= self.inner.per_ip_cap {
            return Err(Refusal::PerAddress);
        }
        counts.total += 1;
        counts.by_ip.insert(ip, from_ip + 1);
        Ok(Slot {
            limits: self.clone(),
            ip,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // A panic while holding this lock leaves plain counters behind; keep going.
        self.inner
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.limits.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(count) = counts.by_ip.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.by_ip.remove(&self.ip);
            }
        }
    }
}

/// TradingView's addresses, every source's `allowed_ips`, and the trusted proxies.
pub fn exempt_networks(config: &Config) -> Vec<IpNet> {
    let tradingview = TRADINGVIEW_ADDRESSES
        .iter()
        .map(|ip| IpNet::from(IpAddr::V4(*ip)));
    let sources = config
        .sources
        .iter()
        .flat_map(|source| source.allowed_ips.iter().copied());
    tradingview
        .chain(sources)
        .chain(config.server.trusted_proxies.iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_address_is_held_to_its_cap_while_others_still_get_in() {
        let limits = ConnectionLimits::new(10, 2, vec![]);
        let _a = limits.try_acquire(ip("10.0.0.1")).unwrap();
        let _b = limits.try_acquire(ip("10.0.0.1")).unwrap();
        assert_eq!(
            limits.try_acquire(ip("10.0.0.1")).err(),
            Some(Refusal::PerAddress)
        );
        assert!(limits.try_acquire(ip("10.0.0.2")).is_ok());
    }

    #[test]
    fn a_closed_connection_frees_its_slot() {
        let limits = ConnectionLimits::new(1, 1, vec![]);
        let slot = limits.try_acquire(ip("10.0.0.1")).unwrap();
        assert_eq!(
            limits.try_acquire(ip("10.0.0.2")).err(),
            Some(Refusal::Total)
        );
        drop(slot);
        assert_eq!(limits.open(), 0);
        assert!(limits.try_acquire(ip("10.0.0.2")).is_ok());
    }

    #[test]
    fn tradingview_allowed_ips_and_proxies_are_exempt_from_the_per_address_cap() {
        let mut config = Config::default();
        config.server.trusted_proxies = vec!["10.9.0.0/16".parse().unwrap()];
        let limits = ConnectionLimits::new(100, 1, exempt_networks(&config));
        let mut held = Vec::new();
        for address in ["52.89.214.238", "10.9.3.4"] {
            for _ in 0..5 {
                held.push(limits.try_acquire(ip(address)).unwrap());
            }
        }
        assert_eq!(limits.open(), 10);
    }

    #[test]
    fn an_ipv4_mapped_address_counts_as_its_ipv4_address() {
        let limits = ConnectionLimits::new(10, 1, vec![]);
        let _a = limits.try_acquire(ip("10.0.0.1")).unwrap();
        assert_eq!(
            limits.try_acquire(ip("::ffff:10.0.0.1")).err(),
            Some(Refusal::PerAddress)
        );
    }
}
