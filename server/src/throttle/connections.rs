//! How many WebSockets are open, per client address and in total. Each costs a file descriptor
//! and a few KiB; a cap keeps one address (or everyone together) from exhausting either. A
//! connection holds a [`ConnectionGuard`] for its whole life; dropping it gives the place back.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Full {
    /// This address has as many connections open as it may.
    #[error("too many connections from this address")]
    Address,
    /// The deployment has as many connections open as it may.
    #[error("this deployment has as many connections as it can take; try the other one")]
    Everyone,
}

/// The most file descriptors kept free of WebSockets: the database, its write-ahead log and
/// index, the read connections, the replication link, HTTP requests, files being served. A small
/// limit keeps an eighth of itself (at least 64) instead.
pub const RESERVED_FILES: usize = 1024;

/// `configured`, or fewer when the process may open only `open_files` files (its soft limit,
/// `None` when unlimited or unknown) and must keep some for itself (see [`RESERVED_FILES`]).
/// Past its limit a deployment can open neither a socket nor a database connection: visitors
/// saying hello got storage failures where they should be told to try the other deployment.
pub fn within_open_files(configured: usize, open_files: Option<u64>) -> usize {
    let Some(limit) = open_files.and_then(|l| usize::try_from(l).ok()) else {
        return configured;
    };
    let reserve = (limit / 8).clamp(64, RESERVED_FILES);
    configured.min(limit.saturating_sub(reserve).max(1))
}

/// Raises this process's soft limit on open files to its hard limit (as servers commonly do; a
/// shell's default soft limit is often 1,024) and returns the soft limit then in force, if any.
pub fn open_files_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if limit.maximum != limit.current {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_err() {
            return limit.current;
        }
    }
    getrlimit(Resource::Nofile).current
}

/// The open connections, by address. Cheap to share (`Arc`).
pub struct Connections {
    limits: (usize, usize),
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One connection's place; given back when dropped.
pub struct ConnectionGuard {
    connections: Arc<Connections>,
    address: IpAddr,
}

impl Connections {
    /// At most `per_address` connections from one address and `total` in all.
    pub fn new(per_address: usize, total: usize) -> Arc<Self> {
        Arc::new(Self {
            limits: (per_address, total),
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// Takes a place for a connection from `address` (`None`, unknown, counts as one address).
    pub fn admit(self: &Arc<Self>, address: Option<IpAddr>) -> Result<ConnectionGuard, Full> {
        let address = address.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let (per_address, total) = self.limits;
        let mut open = self.open.lock().expect("connection count lock");
        if open.0 >= total {
            return Err(Full::Everyone);
        }
        let from_here = open.1.entry(address).or_default();
        if *from_here >= per_address {
            return Err(Full::Address);
        }
        *from_here += 1;
        open.0 += 1;
        Ok(ConnectionGuard {
            connections: self.clone(),
            address,
        })
    }

    /// How many connections are open.
    pub fn open(&self) -> usize {
        self.open.lock().expect("connection count lock").0
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock().expect("connection count lock");
        open.0 -= 1;
        if let Some(count) = open.1.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.1.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_per_address_and_in_total_and_given_back() {
        let connections = Connections::new(2, 3);
        let a = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        let b = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
        let first = connections.admit(a).unwrap();
        let _second = connections.admit(a).unwrap();
        assert_eq!(connections.admit(a).err(), Some(Full::Address));
        let _third = connections.admit(b).unwrap();
        assert_eq!(connections.admit(b).err(), Some(Full::Everyone));
        drop(first);
        assert_eq!(connections.open(), 2);
        assert!(connections.admit(a).is_ok());
    }

    #[test]
    fn the_open_file_limit_caps_websockets_with_room_to_spare() {
        // This machine's limit: 20,000 files, so at most 18,976 WebSockets.
        assert_eq!(within_open_files(1_000_000, Some(20_000)), 18_976);
        assert_eq!(within_open_files(10_000, Some(20_000)), 10_000);
        assert_eq!(within_open_files(10_000, None), 10_000);
        // A shell's default limit keeps an eighth for the deployment.
        assert_eq!(within_open_files(10_000, Some(1_024)), 896);
        // A limit below the reserve still lets one in rather than none at all.
        assert_eq!(within_open_files(10_000, Some(40)), 1);
    }
}
