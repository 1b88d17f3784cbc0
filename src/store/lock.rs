//! One process per database: an exclusive lock on a file beside it, `<database>.lock`,
//! held for the life of the process.
//!
//! Two instances on one database (a blue/green overlap, a double start) would each take
//! the other's in-flight orders for leftovers of a crash and resend or expire them, and
//! their nonce sequences for the one Kraken key would collide. The lock is an OS
//! advisory lock (`flock(2)`, `LockFileEx` on Windows) taken through `fs4`: the kernel
//! drops it when the process ends, however it ends (SIGKILL, a power cut), so a lock
//! file left behind never blocks a restart. The file holds the holder's PID, so the
//! refusal can say which process to look at.
//!
//! `serve` and `migrate` take it (they write); `check-config` and `audit` only read and
//! work beside a running service. An in-memory database is private to its process and
//! needs none.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use fs4::{FileExt, TryLockError};
use sqlx::sqlite::SqliteConnectOptions;

/// How long to wait for a holder that has the lock but has not written its PID yet.
const PID_WAIT: Duration = Duration::from_millis(200);

/// The held lock; dropping it (or ending the process) releases it.
#[derive(Debug)]
pub struct DatabaseLock {
    /// Kept open: closing the file would release the lock.
    _file: File,
    path: PathBuf,
}

impl DatabaseLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another live process holds it.
    #[error(
        "the database {database} is in use by another tradehook process (PID {pid}, \
         lock file {lock}); run one instance per database: stop that one first"
    )]
    Held {
        database: String,
        pid: String,
        lock: String,
    },
    /// The lock file could not be opened, read or written.
    #[error("cannot use the lock file {lock}: {source}")]
    Io {
        lock: String,
        source: std::io::Error,
    },
    /// The database URL does not parse.
    #[error("cannot find the database file in {url}: {source}")]
    Url { url: String, source: sqlx::Error },
}

/// The lock file for the database at `url`; `None` for an in-memory database.
pub fn lock_path(url: &str) -> Result<Option<PathBuf>, LockError> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(None);
    }
    let options = SqliteConnectOptions::from_str(url).map_err(|source| LockError::Url {
        url: url.to_owned(),
        source,
    })?;
    let mut path = options.get_filename().as_os_str().to_owned();
    path.push(".lock");
    Ok(Some(PathBuf::from(path)))
}

/// Takes the lock of the database at `url` (`sqlite://path`), creating the lock file
/// and its folder if needed, or says which process holds it. Never waits for it: a
/// second instance must fail at once, not start when the first one stops.
pub fn acquire(url: &str) -> Result<Option<DatabaseLock>, LockError> {
    let Some(path) = lock_path(url)? else {
        return Ok(None);
    };
    let io = |source| LockError::Io {
        lock: path.display().to_string(),
        source,
    };
    if let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(io)?;
    }
    // Not truncated on open: until the lock is ours, the PID in it is the holder's.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    // Called through the trait: std's own `File::try_lock` is newer than our MSRV.
    match FileExt::try_lock(&file) {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(LockError::Held {
                database: url.to_owned(),
                pid: holder_pid(&mut file),
                lock: path.display().to_string(),
            })
        }
        Err(TryLockError::Error(source)) => return Err(io(source)),
    }
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(Some(DatabaseLock { _file: file, path }))
}

/// The PID the holder wrote; it writes it just after locking, so an empty file is
/// read again for a moment before giving up.
fn holder_pid(file: &mut File) -> String {
    let started = std::time::Instant::now();
    loop {
        let mut text = String::new();
        let read = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| file.read_to_string(&mut text));
        let pid = text.trim();
        if read.is_ok() && !pid.is_empty() {
            return pid.to_owned();
        }
        if started.elapsed() >= PID_WAIT {
            return "unknown".to_owned();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_database_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("sub/t.db").display());
        let first = acquire(&url).unwrap().expect("a file database is locked");
        assert_eq!(first.path(), dir.path().join("sub/t.db.lock"));
        let err = acquire(&url).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&std::process::id().to_string()), "{text}");
        assert!(matches!(err, LockError::Held { .. }));
        drop(first);
        let again = acquire(&url).unwrap();
        assert!(again.is_some(), "released when dropped");
    }

    #[test]
    fn in_memory_databases_need_no_lock() {
        assert!(acquire("sqlite::memory:").unwrap().is_none());
        assert!(acquire("sqlite://x.db?mode=memory").unwrap().is_none());
    }
}
