//! The handle a running container's live parts hold on its monitor: resizes and scrollback requests go out through
//! it to the writer task of `monitor_follow`, which owns the connection.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::streams::{Output, StreamKind};
use berth_runtime::Frame;

/// The scrollback with a receiver for what follows it, nothing lost or repeated in between.
pub type Replay = (Vec<(StreamKind, Bytes)>, broadcast::Receiver<Output>);

pub(super) type ReplayWaiters = Arc<Mutex<VecDeque<oneshot::Sender<Replay>>>>;

/// What the container's live parts hold while its monitor is connected.
pub struct MonitorLink {
    control: mpsc::UnboundedSender<Frame>,
    replays: ReplayWaiters,
}

impl MonitorLink {
    /// A link whose frames go to `control`'s receiver, and whose replays are answered through `replays`.
    pub(super) fn new(control: mpsc::UnboundedSender<Frame>, replays: ReplayWaiters) -> Self {
        MonitorLink { control, replays }
    }

    /// Asks the monitor for a new terminal size (a container without a tty ignores it).
    pub fn resize(&self, rows: u16, cols: u16) {
        let _ = self.control.send(Frame::Resize { rows, cols });
    }

    /// The output the monitor kept (64 KiB), for a terminal that joins late: after a daemon restart it is all
    /// there is of what the container said before.
    pub async fn replay(&self) -> Option<Replay> {
        let (sender, receiver) = oneshot::channel();
        self.replays.lock().unwrap_or_else(|p| p.into_inner()).push_back(sender);
        self.control.send(Frame::ScrollbackRequest).ok()?;
        receiver.await.ok()
    }
}
