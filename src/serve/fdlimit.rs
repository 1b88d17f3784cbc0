//! The open-file limit: raised to its hard maximum at start-up, and the connection
//! cap kept below it so the accept loop never runs out of descriptors.

/// Descriptors kept for everything that is not a client connection: the database
/// and its WAL, the Kraken client's connections, logs, the redirect listener.
pub const RESERVED_DESCRIPTORS: u64 = 128;

/// Raises the soft open-file limit to the hard limit; returns the limit now in force
/// (`None` where the platform has no such limit or it cannot be read).
pub fn raise_nofile_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => Some(limit),
            Err(err) => {
                tracing::warn!(error = %err, "could not raise the open-file limit");
                rlimit::getrlimit(rlimit::Resource::NOFILE)
                    .ok()
                    .map(|(soft, _)| soft)
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The total connection cap to use: `configured`, lowered to fit `nofile` minus the
/// reserve (and never below 1). Warns when it had to be lowered.
pub fn connection_cap(configured: u64, nofile: Option<u64>) -> usize {
    let mut cap = configured;
    if let Some(limit) = nofile {
        let room = limit.saturating_sub(RESERVED_DESCRIPTORS).max(1);
        if room < configured {
            tracing::warn!(
                open_file_limit = limit,
                max_connections = configured,
                using = room,
                "the open-file limit is below server.max_connections plus {RESERVED_DESCRIPTORS} \
                 reserved descriptors; raise it (e.g. LimitNOFILE= in systemd, ulimit -n) — \
                 connections are capped at {room} meanwhile"
            );
            cap = room;
        }
    }
    usize::try_from(cap).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_lowered_below_a_low_open_file_limit() {
        assert_eq!(connection_cap(1024, Some(1024)), 1024 - 128);
        assert_eq!(connection_cap(1024, Some(65_536)), 1024);
        assert_eq!(connection_cap(1024, None), 1024);
        assert_eq!(connection_cap(1024, Some(10)), 1);
    }

    #[test]
    fn raising_the_limit_never_lowers_it() {
        let before = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap().0;
        let after = raise_nofile_limit().unwrap();
        assert!(after >= before, "{after} < {before}");
    }
}
