//! The playground terminal over its websocket: a shell in a container, the scrollback replayed on reconnect, and
//! a read-only viewer whose keystrokes go nowhere; and Docker's attach websocket.

mod support;

use berth_shared::api::terminal::{ClientMessage, ServerMessage};
use futures_util::SinkExt;
use support::terminal::{connect, next_control, read_until, send};
use support::Daemon;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn shell_session_survives_a_reconnect() {
    let daemon = Daemon::start();
    daemon.ok(&["run", "-d", "--name", "term", "busybox", "sleep", "1000"]);

    let mut first = connect(&daemon, "container=term&mode=shell&rows=30&cols=100").await;
    let ServerMessage::Hello { session, readonly, .. } = next_control(&mut first).await else {
        panic!("the first message is hello")
    };
    assert!(!readonly);
    assert_eq!(next_control(&mut first).await, ServerMessage::ReplayStart);
    assert_eq!(next_control(&mut first).await, ServerMessage::ReplayEnd);
    send(&mut first, &ClientMessage::Input { data: "echo hello-from-terminal-$((6*7))\r".into() }).await;
    read_until(&mut first, "hello-from-terminal-42").await;
    send(&mut first, &ClientMessage::Input { data: "stty size\r".into() }).await;
    read_until(&mut first, "30 100").await;
    drop(first);

    let mut again = connect(&daemon, &format!("session={session}")).await;
    let ServerMessage::Hello { session: rejoined, .. } = next_control(&mut again).await else { panic!("hello") };
    assert_eq!(rejoined, session, "the same shell");
    assert_eq!(next_control(&mut again).await, ServerMessage::ReplayStart);
    let replay = read_until(&mut again, "hello-from-terminal-42").await;
    assert!(replay.contains("echo hello-from-terminal-"), "the scrollback has the command too: {replay:?}");

    let mut viewer = connect(&daemon, &format!("session={session}&readonly=true")).await;
    let ServerMessage::Hello { readonly, .. } = next_control(&mut viewer).await else { panic!("hello") };
    assert!(readonly);
    send(&mut viewer, &ClientMessage::Input { data: "echo viewer-typed\r".into() }).await;
    send(&mut again, &ClientMessage::Input { data: "echo owner-typed\r".into() }).await;
    let seen = read_until(&mut viewer, "owner-typed\r\n").await;
    assert!(!seen.contains("viewer-typed"), "a viewer cannot type: {seen:?}");

    send(&mut again, &ClientMessage::Input { data: "exit 5\r".into() }).await;
    loop {
        if let ServerMessage::Exit { code } = next_control(&mut again).await {
            assert_eq!(code, 5);
            break;
        }
    }
    daemon.ok(&["rm", "-f", "term"]);
}

#[tokio::test]
async fn unknown_sessions_and_containers_are_refused() {
    let daemon = Daemon::start();
    let url = format!("ws://{}/berth/terminals/ws?session=nosuch", daemon.http_addr());
    assert!(tokio_tungstenite::connect_async(url).await.is_err(), "no upgrade for an unknown session");
    let url = format!("ws://{}/berth/terminals/ws?container=nosuch", daemon.http_addr());
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
}

/// Docker's `GET /containers/{id}/attach/ws`: what is sent reaches stdin, stdout comes back as binary frames, an
/// unwanted stream is filtered out, and `logs=1` replays what was written before.
#[tokio::test]
async fn attach_ws_echoes_stdin_and_filters_streams() {
    let daemon = Daemon::start();
    let script = "echo before-attach; echo to-stderr >&2; while read line; do echo got:$line; echo err:$line >&2; done";
    daemon.ok(&["run", "-d", "-i", "--name", "echoer", "busybox", "sh", "-c", script]);
    let url =
        format!("ws://{}/containers/echoer/attach/ws?logs=1&stream=1&stdin=1&stdout=1&stderr=0", daemon.http_addr());
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
    let replayed = read_until(&mut socket, "before-attach").await;
    assert!(!replayed.contains("to-stderr"), "stderr was not asked for: {replayed:?}");
    socket.send(Message::Binary("hello-ws\n".as_bytes().to_vec().into())).await.expect("send");
    let echoed = read_until(&mut socket, "got:hello-ws").await;
    assert!(!echoed.contains("err:"), "stderr was not asked for: {echoed:?}");
    socket.send(Message::Text("second\n".into())).await.expect("send");
    read_until(&mut socket, "got:second").await;
    daemon.ok(&["rm", "-f", "echoer"]);
}
