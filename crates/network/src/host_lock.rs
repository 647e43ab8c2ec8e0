//! A lock shared by every Berth daemon on the host around choosing a subnet and putting it on a bridge.
//!
//! A daemon reads the host's routes to find a free subnet, then makes the bridge that takes it. Two daemons doing
//! that at once (a host running one daemon per class, or tests in parallel) would both see the same subnet free and
//! both take it, and the second network would then have neither routing nor DNS. The lock makes the read and the
//! bridge one step for every daemon on the host.

use std::fs::{File, OpenOptions};
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use super::error::NetworkError;

/// Where the lock lives: on the host, outside every daemon's root, so that all daemons share it.
const LOCK_PATH: &str = "/run/berth-subnets.lock";

/// Held while it lives; dropping it releases the lock.
pub struct SubnetLock {
    _held: Flock<File>,
}

impl SubnetLock {
    /// Waits (off the async threads) until no other daemon on the host is choosing a subnet.
    pub async fn acquire() -> Result<SubnetLock, NetworkError> {
        tokio::task::spawn_blocking(|| acquire_blocking(Path::new(LOCK_PATH)))
            .await
            .map_err(|e| NetworkError::io("wait for the host's subnet lock", std::io::Error::other(e)))?
    }
}

fn acquire_blocking(path: &Path) -> Result<SubnetLock, NetworkError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| NetworkError::io(format!("open {}", path.display()), e))?;
    Flock::lock(file, FlockArg::LockExclusive)
        .map(|held| SubnetLock { _held: held })
        .map_err(|(_, errno)| NetworkError::io(format!("lock {}", path.display()), std::io::Error::from(errno)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_for_the_first() {
        let dir = std::env::temp_dir().join(format!("berth-subnet-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lock");
        let first = acquire_blocking(&path).unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || {
                let second = acquire_blocking(&path).unwrap();
                sender.send(()).unwrap();
                drop(second);
            })
        };
        assert!(
            receiver.recv_timeout(std::time::Duration::from_millis(300)).is_err(),
            "the second holder got the lock while the first held it"
        );
        drop(first);
        receiver
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the second holder gets the lock once it is free");
        waiter.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
