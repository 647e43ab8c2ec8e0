//! The identity store on a real PostgreSQL server (`--database postgres://...`), not only the embedded SQLite:
//! accounts, classes, seats (also when joins race), tokens, the audit log and state across a reopen, then a real
//! daemon on it whose session survives a daemon restart.

mod support;

use std::sync::Arc;

use berth_identity::{ClassLimits, Identity, IdentityError, Role};
use support::postgres::Postgres;
use support::Daemon;

fn cluster_parent() -> tempfile::TempDir {
    let e2e = support::target_dir().join("e2e");
    std::fs::create_dir_all(&e2e).expect("creating target/e2e");
    tempfile::Builder::new().prefix("postgres-").tempdir_in(&e2e).expect("a directory for the cluster")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_identity_store_works_on_postgresql() {
    let parent = cluster_parent();
    let server = Postgres::start(parent.path());
    let url = server.database("identity");
    let identity = Identity::open(&url).await.unwrap_or_else(|e| panic!("open {url}: {e}\n{}", server.log()));

    identity.create_user("ada", Role::Instructor, "analytical engine").await.expect("create user");
    let again = identity.create_user("ada", Role::Student, "another one!").await.err().map(|e| e.to_string());
    assert_eq!(again.as_deref(), Some("user \"ada\" already exists"));
    assert_eq!(identity.sign_in("ada", "analytical engine").await.expect("sign in").role, Role::Instructor);
    assert!(matches!(identity.sign_in("ada", "wrong password").await, Err(IdentityError::SignInFailed)));

    identity.create_class("intro", 3, ClassLimits::default()).await.expect("class");
    let taken = identity.create_class("intro", 3, ClassLimits::default()).await.err().map(|e| e.to_string());
    assert!(taken.as_deref().is_some_and(|m| m.contains("already exists")), "{taken:?}");
    let link = identity.create_join_link("intro", 3600).await.expect("link");

    // Ten joins race for three seats: three get one.
    let identity = Arc::new(identity);
    let joins: Vec<_> = (0..10)
        .map(|_| {
            let (identity, token) = (identity.clone(), link.token.clone());
            tokio::spawn(async move { identity.join(&token).await })
        })
        .collect();
    let mut seated = Vec::new();
    for join in joins {
        match join.await.expect("join task") {
            Ok(new) => seated.push(new),
            Err(IdentityError::ClassFull { .. }) => {}
            Err(other) => panic!("a join failed otherwise: {other}"),
        }
    }
    assert_eq!(seated.len(), 3, "a class of 3 seated {}", seated.len());
    let first = &seated[0];
    let session = identity.authenticate(&first.token).await.expect("token");
    assert_eq!((session.id.as_str(), session.class.as_str()), (first.session.id.as_str(), "intro"));
    assert!(matches!(identity.authenticate("bt_forged").await, Err(IdentityError::BadToken)));
    identity.end_session(&first.session.id).await.expect("end");
    assert!(matches!(identity.authenticate(&first.token).await, Err(IdentityError::BadToken)));
    identity.join(&link.token).await.expect("the ended session's seat is free again");
    identity.audit("operator", "create-class", "intro", "ok").await.expect("audit");

    // Everything is in the database: a new pool on it finds the same state.
    let kept = seated[1].token.clone();
    identity.close().await;
    let reopened = Identity::open(&url).await.expect("reopen");
    assert_eq!(reopened.authenticate(&kept).await.expect("token after reopen").class, "intro");
    assert_eq!(reopened.sessions().await.expect("sessions").len(), 3);
    let log = reopened.audit_log(10).await.expect("audit log");
    assert_eq!(log.first().map(|entry| entry.action.as_str()), Some("create-class"));
    reopened.close().await;
}

#[test]
fn a_daemon_on_postgresql_keeps_its_sessions_across_a_restart() {
    let parent = cluster_parent();
    let server = Postgres::start(parent.path());
    let url = server.database("berth");
    let mut daemon = Daemon::start_with_args(&["--auth", "accounts", "--database", &url]);
    daemon.admin(&["create-class", "night", "--seats", "2"]);
    let printed = daemon.admin(&["new-session", "--class", "night"]);
    let token = printed
        .lines()
        .find_map(|line| line.strip_prefix("token "))
        .unwrap_or_else(|| panic!("no token in {printed:?}"))
        .to_string();
    let config = daemon.scratch_dir("docker-config");
    let headers = serde_json::json!({ "HttpHeaders": { "Authorization": format!("Bearer {token}") } });
    std::fs::write(config.join("config.json"), headers.to_string()).expect("config.json");
    let created = daemon.docker_over_http_as(&config, &["create", "--name", "kept", "busybox", "true"]);
    assert!(created.success(), "{created:?}\n{}", daemon.log_tail());

    daemon.restart();
    let listed = daemon.docker_over_http_as(&config, &["ps", "-a", "--format", "{{.Names}}"]);
    assert!(listed.success(), "the token failed after a restart: {listed:?}\n{}", server.log());
    assert_eq!(listed.stdout.trim(), "kept");
    let sessions = daemon.admin(&["sessions"]);
    assert!(sessions.contains("night"), "{sessions}");
}
