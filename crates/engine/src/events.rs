//! The daemon's event bus (`GET /events`, `docker events`, `docker stats` without --no-stream): every event is
//! numbered, written to the history (`event_log`) and broadcast under one lock, so a subscriber that takes the
//! history and its receiver together sees each event exactly once.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bollard_stubs::models::{EventActor, EventMessage, EventMessageScopeEnum, EventMessageTypeEnum};
use tokio::sync::broadcast;

use crate::event_log::{EventLog, EventLogError};

/// How many events a slow subscriber may fall behind before it catches up from the history instead.
const CHANNEL: usize = 1024;

/// One event and its place in this daemon's numbering (which starts again at each start).
#[derive(Debug, Clone)]
pub struct Event {
    pub seq: u64,
    pub message: EventMessage,
}

#[derive(Clone)]
pub struct Events {
    shared: Arc<Shared>,
}

struct Shared {
    sender: broadcast::Sender<Arc<Event>>,
    state: Mutex<State>,
}

struct State {
    log: EventLog,
    /// The number the next event gets; the history's are the ones just below.
    next_seq: u64,
}

impl State {
    fn first_seq(&self) -> u64 {
        self.next_seq - self.log.events().len() as u64
    }

    /// The kept events numbered `from` and later, oldest first.
    fn numbered_from(&self, from: u64) -> Vec<Event> {
        let skip = from.saturating_sub(self.first_seq()) as usize;
        let first = self.first_seq();
        self.log
            .events()
            .iter()
            .enumerate()
            .skip(skip)
            .map(|(index, message)| Event { seq: first + index as u64, message: message.clone() })
            .collect()
    }
}

impl Events {
    /// The bus with its history in `dir`: segments of `max_history / 2` events, so at most `max_history` are kept
    /// and never fewer than the newest `max_history / 2`.
    pub fn open(dir: &Path, max_history: usize) -> Result<Events, EventLogError> {
        let log = EventLog::open(dir, max_history / 2)?;
        let next_seq = log.events().len() as u64;
        let sender = broadcast::channel(CHANNEL).0;
        Ok(Events { shared: Arc::new(Shared { sender, state: Mutex::new(State { log, next_seq }) }) })
    }

    /// The kept events at or after `since` (Unix nanoseconds; None: none of them), and every event after those.
    pub fn subscribe(&self, since: Option<i64>) -> Subscription {
        let state = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        let receiver = self.shared.sender.subscribe();
        let backlog = match since {
            None => Vec::new(),
            Some(since) => {
                // Times only grow within one daemon's run; a clock set back makes the replay start later, not
                // lose its order.
                let start = state.log.events().iter().position(|m| m.time_nano.unwrap_or(0) >= since);
                start.map(|start| state.numbered_from(state.first_seq() + start as u64)).unwrap_or_default()
            }
        };
        Subscription {
            events: self.clone(),
            receiver,
            pending: backlog.into(),
            last_seq: state.next_seq.checked_sub(1),
        }
    }

    pub fn emit(&self, typ: EventMessageTypeEnum, action: &str, id: &str, attributes: HashMap<String, String>) {
        let mut state = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        // Taken under the lock, so the history's times are in its order.
        let now = chrono::Utc::now();
        let message = EventMessage {
            typ: Some(typ),
            action: Some(action.to_string()),
            actor: Some(EventActor { id: Some(id.to_string()), attributes: Some(attributes) }),
            scope: Some(EventMessageScopeEnum::LOCAL),
            time: Some(now.timestamp()),
            time_nano: now.timestamp_nanos_opt(),
        };
        state.log.append(&message);
        let seq = state.next_seq;
        state.next_seq += 1;
        // No subscribers is the common case, not an error.
        let _ = self.shared.sender.send(Arc::new(Event { seq, message }));
    }
}

/// What one `GET /events` reads: the replayed history first, then live events, each once and in order.
pub struct Subscription {
    events: Events,
    receiver: broadcast::Receiver<Arc<Event>>,
    pending: std::collections::VecDeque<Event>,
    /// The newest event already handed out or queued in `pending` (None: before the first event ever).
    last_seq: Option<u64>,
}

impl Subscription {
    /// The replayed history, taken out so a caller can tell it from live events (`until` in the past ends there).
    pub fn take_backlog(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.pending).into()
    }

    /// The next event; None once the bus is gone.
    pub async fn recv(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            match self.receiver.recv().await {
                Ok(event) if self.last_seq.is_some_and(|last| event.seq <= last) => continue,
                Ok(event) => {
                    self.last_seq = Some(event.seq);
                    return Some((*event).clone());
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    // The history holds what the channel dropped, unless it has moved past it too.
                    let from = self.last_seq.map_or(0, |last| last + 1);
                    let state = self.events.shared.state.lock().unwrap_or_else(|p| p.into_inner());
                    if state.first_seq() > from {
                        tracing::warn!(missed, "events: a subscriber fell behind the history; events lost");
                    }
                    self.pending = state.numbered_from(from).into();
                    self.last_seq = state.next_seq.checked_sub(1);
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emit(events: &Events, action: &str) {
        events.emit(EventMessageTypeEnum::CONTAINER, action, "id", HashMap::new());
    }

    async fn next_action(subscription: &mut Subscription) -> String {
        subscription.recv().await.and_then(|e| e.message.action).unwrap_or_default()
    }

    #[tokio::test]
    async fn replay_then_live_without_gap_or_double() {
        let dir = tempfile::tempdir().unwrap();
        let events = Events::open(dir.path(), 100).unwrap();
        emit(&events, "a");
        emit(&events, "b");
        let mut subscription = events.subscribe(Some(0));
        emit(&events, "c");
        assert_eq!(next_action(&mut subscription).await, "a");
        assert_eq!(next_action(&mut subscription).await, "b");
        assert_eq!(next_action(&mut subscription).await, "c");
        let mut live = events.subscribe(None);
        emit(&events, "d");
        assert_eq!(next_action(&mut live).await, "d");
    }

    #[tokio::test]
    async fn a_lagging_subscriber_catches_up_from_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let events = Events::open(dir.path(), 4 * CHANNEL).unwrap();
        let mut subscription = events.subscribe(None);
        for n in 0..CHANNEL + 10 {
            emit(&events, &n.to_string());
        }
        for n in 0..CHANNEL + 10 {
            assert_eq!(next_action(&mut subscription).await, n.to_string());
        }
    }

    #[tokio::test]
    async fn history_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        emit(&Events::open(dir.path(), 100).unwrap(), "before");
        let events = Events::open(dir.path(), 100).unwrap();
        let mut subscription = events.subscribe(Some(0));
        emit(&events, "after");
        assert_eq!(next_action(&mut subscription).await, "before");
        assert_eq!(next_action(&mut subscription).await, "after");
    }
}
