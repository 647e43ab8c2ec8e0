//! The daemon's event bus (`GET /events`, `docker events`, `docker stats` without --no-stream).

use std::collections::HashMap;

use bollard_stubs::models::{EventActor, EventMessage, EventMessageScopeEnum, EventMessageTypeEnum};
use tokio::sync::broadcast;

#[derive(Clone)]
pub struct Events {
    sender: broadcast::Sender<EventMessage>,
}

impl Default for Events {
    fn default() -> Self {
        Events { sender: broadcast::channel(1024).0 }
    }
}

impl Events {
    pub fn subscribe(&self) -> broadcast::Receiver<EventMessage> {
        self.sender.subscribe()
    }

    pub fn emit(&self, typ: EventMessageTypeEnum, action: &str, id: &str, attributes: HashMap<String, String>) {
        let now = chrono::Utc::now();
        let message = EventMessage {
            typ: Some(typ),
            action: Some(action.to_string()),
            actor: Some(EventActor { id: Some(id.to_string()), attributes: Some(attributes) }),
            scope: Some(EventMessageScopeEnum::LOCAL),
            time: Some(now.timestamp()),
            time_nano: now.timestamp_nanos_opt(),
        };
        // No subscribers is the common case, not an error.
        let _ = self.sender.send(message);
    }
}
