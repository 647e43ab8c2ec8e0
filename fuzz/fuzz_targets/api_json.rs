//! The Engine API's JSON bodies (crates/api): every body type the API decodes takes the same bytes through
//! `decode_json_body`, which crates/api/src/body.rs decodes them with, and must decode or fail with an error,
//! never panic. A body that decodes must serialize, and decode again to the same value: the engine keeps a
//! container's config and host config as JSON in its record and reads them back when the daemon starts, and
//! `docker inspect` shows that JSON. Seeds: fuzz/seeds/api_json/, bodies the docker CLI and compose send. Run by
//! `cargo xtask fuzz --target api_json`.
#![no_main]

use berth_shared::api::decode_json_body;
use berth_shared::api::models::{
    ContainerCreateBody, ContainerUpdateBody, ExecConfig, ExecStartConfig, NetworkConnectRequest, NetworkCreateRequest,
    NetworkDisconnectRequest, VolumeCreateRequest,
};
use berth_shared::api::terminal::ClientMessage;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Decoded, a value must survive its own JSON. Compared as JSON values, because a few bollard-stubs fields
/// (ExposedPorts, Volumes) pass through a HashMap on the way in, whose order is random.
fn round_trip<T: DeserializeOwned + Serialize>(name: &str, value: &T) {
    let json =
        serde_json::to_value(value).unwrap_or_else(|error| panic!("a decoded {name} does not serialize: {error}"));
    let again: T = match serde_json::from_value(json.clone()) {
        Ok(again) => again,
        Err(error) => panic!("a {name} does not decode from its own JSON: {error}\n{json}"),
    };
    let json_again = serde_json::to_value(&again).expect("it serialized once");
    assert_eq!(json, json_again, "a {name} changes going through its own JSON");
}

fn body<T: DeserializeOwned + Serialize + Default>(name: &str, data: &[u8]) {
    if let Ok(value) = decode_json_body::<T>(data) {
        round_trip(name, &value);
    }
}

fuzz_target!(|data: &[u8]| {
    body::<ContainerCreateBody>("ContainerCreateBody", data);
    body::<ContainerUpdateBody>("ContainerUpdateBody", data);
    body::<ExecConfig>("ExecConfig", data);
    body::<ExecStartConfig>("ExecStartConfig", data);
    body::<NetworkCreateRequest>("NetworkCreateRequest", data);
    body::<NetworkConnectRequest>("NetworkConnectRequest", data);
    body::<NetworkDisconnectRequest>("NetworkDisconnectRequest", data);
    body::<VolumeCreateRequest>("VolumeCreateRequest", data);
    // The terminal websocket's text frames (crates/api/src/terminal.rs), decoded with no default.
    if let Ok(message) = serde_json::from_slice::<ClientMessage>(data) {
        round_trip("terminal ClientMessage", &message);
    }
});
