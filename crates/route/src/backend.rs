//! A backend as the route holds it: where it is (the caller may change it, or take it away while its container
//! has no address), whether it may get traffic, and its counters. Unhealthy is either the caller's word (a
//! container's HEALTHCHECK) or a TCP connect that failed; the route's prober clears the latter once a connect
//! works again.

use std::net::SocketAddr;
use std::sync::{Mutex, RwLock};

use tokio_util::sync::CancellationToken;

use super::stats::Stats;

pub(crate) struct Backend {
    pub name: String,
    addr: RwLock<Option<SocketAddr>>,
    marked_unhealthy: Mutex<Option<String>>,
    connect_failed: Mutex<Option<String>>,
    /// Held by what runs on the backend; cancelled when a drain's time ends after the backend lost its traffic.
    drain: Mutex<CancellationToken>,
    pub stats: Stats,
}

impl Backend {
    pub fn new(name: String, addr: Option<SocketAddr>) -> Self {
        Backend {
            name,
            addr: RwLock::new(addr),
            marked_unhealthy: Mutex::new(None),
            connect_failed: Mutex::new(None),
            drain: Mutex::new(CancellationToken::new()),
            stats: Stats::default(),
        }
    }

    pub fn addr(&self) -> Option<SocketAddr> {
        *self.addr.read().unwrap_or_else(|p| p.into_inner())
    }

    /// A new address forgets the last connect failure: it was another address's.
    pub fn set_addr(&self, addr: Option<SocketAddr>) {
        let mut current = self.addr.write().unwrap_or_else(|p| p.into_inner());
        if *current != addr {
            *current = addr;
            *self.connect_failed.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    pub fn mark(&self, unhealthy: Option<String>) {
        *self.marked_unhealthy.lock().unwrap_or_else(|p| p.into_inner()) = unhealthy;
    }

    pub fn connect_failed(&self, why: Option<String>) {
        *self.connect_failed.lock().unwrap_or_else(|p| p.into_inner()) = why;
    }

    /// None when it may get traffic.
    pub fn unhealthy_reason(&self) -> Option<String> {
        if self.addr().is_none() {
            return Some("no address (its container is not running on a network)".into());
        }
        if let Some(reason) = self.marked_unhealthy.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Some(reason);
        }
        self.connect_failed.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn healthy(&self) -> bool {
        self.unhealthy_reason().is_none()
    }

    pub fn drain_token(&self) -> CancellationToken {
        self.drain.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Starts a drain: what runs on the backend now holds the returned token (cancel it to end them); what
    /// starts from here on (a fallback to it, its traffic given back) gets a fresh one.
    pub fn begin_drain(&self) -> CancellationToken {
        std::mem::take(&mut *self.drain.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
