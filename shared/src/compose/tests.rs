//! The loader end to end: files in, project or positioned diagnostics out.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

const FILE: &str = "/srv/app/compose.yaml";

fn load_with(files: &[(&str, &str)], options: &LoadOptions<'_>) -> Result<Loaded, Vec<Diagnostic>> {
    load(files, options)
}

fn load_one(source: &str) -> Result<Loaded, Vec<Diagnostic>> {
    load(&[(FILE, source)], &LoadOptions::default())
}

fn project(source: &str) -> Project {
    match load_one(source) {
        Ok(loaded) => loaded.project,
        Err(diagnostics) => panic!("load failed: {}", render(&diagnostics)),
    }
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

fn errors(source: &str) -> Vec<Diagnostic> {
    match load_one(source) {
        Ok(loaded) => panic!("expected errors, loaded {:?}", loaded.project),
        Err(diagnostics) => diagnostics,
    }
}

/// The first error, asserted to be at `line:column` with `path`.
fn error_at(diagnostics: &[Diagnostic], line: usize, column: usize, path: &str) -> ComposeError {
    let error = diagnostics.iter().find(|diagnostic| diagnostic.is_error()).expect("an error");
    assert_eq!((error.line(), error.column(), error.path.as_str()), (line, column, path), "{}", render(diagnostics));
    error.kind.clone()
}

fn service<'project>(project: &'project Project, name: &str) -> &'project Service {
    project.services.get(name).expect("service exists")
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Loading and the canonical model

#[test]
fn minimal_file_loads_with_defaults() {
    let project = project("services:\n  web:\n    image: nginx\n");
    assert_eq!(project.name, "app");
    let web = service(&project, "web");
    assert_eq!(web.image.as_deref(), Some("nginx"));
    assert!(web.networks.contains_key("default"));
    assert_eq!(project.networks["default"].name.as_deref(), Some("app_default"));
}

#[test]
fn versioned_files_load_with_a_warning() {
    for version in ["2.4", "3.8"] {
        let source = format!("version: \"{version}\"\nservices:\n  web:\n    image: nginx\n");
        let loaded = load_one(&source).expect("loads");
        let warning = &loaded.warnings[0];
        assert_eq!((warning.kind.clone(), warning.line(), warning.column()), (ComposeError::ObsoleteVersion, 1, 10));
    }
}

#[test]
fn every_service_field_decodes() {
    let source = r#"
name: My_Project
services:
  web:
    build:
      context: ./web
      dockerfile: Dockerfile.dev
      args: [A=1, B]
      target: dev
      labels: {x: y}
    command: echo "hello world"
    entrypoint: [/bin/sh, -c]
    environment:
      PLAIN: value
      NUMBER: 1
      EMPTY:
    ports:
      - "8080:80"
      - 127.0.0.1:5000-5001:6000-6001/udp
      - target: 443
        published: "8443"
        host_ip: 0.0.0.0
        protocol: tcp
        mode: host
    expose: [3000, "4000/udp"]
    volumes:
      - data:/var/lib/data:ro
      - ./src:/app
      - type: tmpfs
        target: /tmp
        tmpfs: {size: 64m}
      - type: volume
        source: data
        target: /cache
        volume: {nocopy: true}
    volumes_from: [db:ro]
    networks:
      front:
        aliases: [www]
        ipv4_address: 172.20.0.5
    links: ["db:database"]
    depends_on:
      db: {condition: service_healthy}
    restart: on-failure:3
    user: "1000:1000"
    working_dir: /app
    hostname: web
    container_name: web-1
    healthcheck:
      test: curl -f http://localhost
      interval: 1m30s
      timeout: 10s
      retries: 3
      start_period: 5s
    labels: [com.example=1, flag]
    mem_limit: 512m
    memswap_limit: -1
    cpus: 0.5
    cpu_shares: 512
    pids_limit: 100
    ulimits:
      nproc: 65535
      nofile: {soft: 1024, hard: 2048}
    read_only: true
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    security_opt: [no-new-privileges:true]
    tmpfs: /run
    init: true
    stop_signal: SIGINT
    stop_grace_period: 1m30s
    logging:
      driver: json-file
      options: {max-size: 10m}
    secrets: [token, {source: cert, target: tls.pem, mode: 0440}]
    configs: [app_config]
    deploy:
      resources:
        limits: {cpus: "1.5", memory: 1g, pids: 50}
    tty: true
    stdin_open: true
    privileged: false
    dns: 8.8.8.8
    dns_search: [example.com]
    extra_hosts: {somehost: 10.0.0.1}
    sysctls: [net.core.somaxconn=1024]
    shm_size: 64m
  db:
    image: postgres
networks:
  front:
    driver: bridge
volumes:
  data: {}
secrets:
  token: {file: ./token.txt}
  cert: {file: /etc/cert.pem}
configs:
  app_config: {content: "x=1"}
"#;
    let project = project(source);
    assert_eq!(project.name, "my_project");
    let web = service(&project, "web");
    let build = web.build.as_ref().expect("build");
    assert_eq!(build.context, "/srv/app/web");
    assert_eq!(build.args.get("B"), Some(&None));
    assert_eq!(web.command.as_deref(), Some(&["echo".to_string(), "hello world".to_string()][..]));
    assert_eq!(web.environment.get("NUMBER"), Some(&Some("1".to_string())));
    assert_eq!(web.environment.get("EMPTY"), Some(&None));
    assert_eq!(web.ports.len(), 4);
    assert_eq!(web.ports[1].host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!((web.ports[2].target, web.ports[2].published.as_deref()), (6001, Some("5001")));
    assert_eq!(web.ports[3].mode.as_deref(), Some("host"));
    assert_eq!(web.expose, ["3000", "4000/udp"]);
    assert_eq!(web.volumes[1].source.as_deref(), Some("/srv/app/src"));
    assert_eq!(web.volumes[2].tmpfs.as_ref().and_then(|options| options.size), Some(64 << 20));
    assert_eq!(web.networks["front"].aliases, ["www"]);
    assert_eq!(web.depends_on["db"].condition, DependencyCondition::ServiceHealthy);
    let healthcheck = web.healthcheck.as_ref().expect("healthcheck");
    assert_eq!(healthcheck.test, ["CMD-SHELL", "curl -f http://localhost"]);
    assert_eq!(healthcheck.interval, Some(Duration::from_secs(90)));
    assert_eq!(web.labels.get("flag"), Some(&String::new()));
    assert_eq!((web.mem_limit, web.memswap_limit, web.cpus), (Some(512 << 20), Some(-1), Some(0.5)));
    assert_eq!(web.ulimits["nproc"], Ulimit { soft: 65535, hard: 65535 });
    assert_eq!(web.ulimits["nofile"], Ulimit { soft: 1024, hard: 2048 });
    assert_eq!(web.tmpfs, ["/run"]);
    assert_eq!(web.stop_grace_period, Some(Duration::from_secs(90)));
    assert_eq!(web.secrets[0].target, "/run/secrets/token");
    assert_eq!((web.secrets[1].target.as_str(), web.secrets[1].mode), ("/run/secrets/tls.pem", Some(0o440)));
    assert_eq!(web.configs[0].target, "/app_config");
    let limits = web.deploy.as_ref().and_then(|deploy| deploy.resources.limits.as_ref()).expect("limits");
    assert_eq!((limits.cpus, limits.memory, limits.pids), (Some(1.5), Some(1 << 30), Some(50)));
    assert_eq!(web.dns, ["8.8.8.8"]);
    assert_eq!(web.extra_hosts, ["somehost:10.0.0.1"]);
    assert_eq!(web.sysctls.get("net.core.somaxconn").map(String::as_str), Some("1024"));
    assert_eq!(project.secrets["token"].file.as_deref(), Some("/srv/app/token.txt"));
    assert_eq!(project.volumes["data"].name.as_deref(), Some("my_project_data"));
}

#[test]
fn anchors_and_merge_keys_share_fragments() {
    let project = project(
        "x-common: &common\n  restart: always\n  environment: {A: '1'}\nservices:\n  a:\n    <<: *common\n    image: a\n  b:\n    <<: *common\n    image: b\n",
    );
    assert_eq!(service(&project, "b").restart.as_deref(), Some("always"));
    assert_eq!(service(&project, "a").environment.get("A"), Some(&Some("1".to_string())));
}

#[test]
fn env_file_contents_merge_under_environment() {
    let files = |path: &str| match path {
        "/srv/app/web.env" => Some("FROM_FILE=1\nOVERRIDDEN=file\n".to_string()),
        _ => None,
    };
    let options = LoadOptions { files: &files, ..LoadOptions::default() };
    let source =
        "services:\n  web:\n    image: nginx\n    env_file: web.env\n    environment: {OVERRIDDEN: explicit}\n";
    let loaded = load_with(&[(FILE, source)], &options).expect("loads");
    let web = service(&loaded.project, "web");
    assert_eq!(web.environment.get("FROM_FILE"), Some(&Some("1".to_string())));
    assert_eq!(web.environment.get("OVERRIDDEN"), Some(&Some("explicit".to_string())));
}

#[test]
fn optional_env_file_may_be_missing() {
    let source =
        "services:\n  web:\n    image: nginx\n    env_file:\n      - path: nope.env\n        required: false\n";
    assert!(load_one(source).is_ok());
}

#[test]
fn profiles_select_services() {
    let source = "services:\n  web: {image: nginx}\n  debug: {image: busybox, profiles: [debug]}\n";
    assert!(!project(source).services.contains_key("debug"));
    let options = LoadOptions { profiles: vec!["debug".into()], ..LoadOptions::default() };
    let loaded = load_with(&[(FILE, source)], &options).expect("loads");
    assert!(loaded.project.services.contains_key("debug"));
    let options = LoadOptions { env: env(&[("COMPOSE_PROFILES", "debug")]), ..LoadOptions::default() };
    assert!(load_with(&[(FILE, source)], &options).expect("loads").project.services.contains_key("debug"));
}

#[test]
fn depending_on_a_service_in_an_inactive_profile_is_an_error() {
    let source =
        "services:\n  web:\n    image: nginx\n    depends_on: [debug]\n  debug: {image: busybox, profiles: [debug]}\n";
    let diagnostics = errors(source);
    assert!(matches!(
        error_at(&diagnostics, 4, 18, "services.web.depends_on.debug"),
        ComposeError::InactiveService { .. }
    ));
}

#[test]
fn project_name_precedence_and_normalization() {
    let source = "name: FromFile\nservices:\n  web: {image: nginx}\n";
    assert_eq!(project(source).name, "fromfile");
    let options = LoadOptions { env: env(&[("COMPOSE_PROJECT_NAME", "FromEnv")]), ..LoadOptions::default() };
    assert_eq!(load_with(&[(FILE, source)], &options).expect("loads").project.name, "fromenv");
    let options = LoadOptions { project_name: Some("Given.Name".into()), ..LoadOptions::default() };
    assert_eq!(load_with(&[(FILE, source)], &options).expect("loads").project.name, "givenname");
}

// ---------------------------------------------------------------------------------------------------------------
// Interpolation through the loader (each form has a unit test in interpolate.rs)

#[test]
fn interpolation_reads_env_over_dotenv() {
    let options = LoadOptions {
        env: env(&[("TAG", "from-env")]),
        dotenv: Some("TAG=from-dotenv\nPORT=8080\n".into()),
        ..LoadOptions::default()
    };
    let source = "services:\n  web:\n    image: nginx:${TAG}\n    ports: [\"${PORT}:80\"]\n    cpus: ${CPUS:-0.25}\n";
    let loaded = load_with(&[(FILE, source)], &options).expect("loads");
    let web = service(&loaded.project, "web");
    assert_eq!(web.image.as_deref(), Some("nginx:from-env"));
    assert_eq!(web.ports[0].published.as_deref(), Some("8080"));
    assert_eq!(web.cpus, Some(0.25));
}

#[test]
fn unset_variable_is_blank_with_one_positioned_warning() {
    let source = "services:\n  web:\n    image: nginx:${TAG}\n    hostname: h${TAG}\n";
    let loaded = load_one(source).expect("loads");
    assert_eq!(service(&loaded.project, "web").image.as_deref(), Some("nginx:"));
    assert_eq!(loaded.warnings.len(), 1);
    let warning = &loaded.warnings[0];
    assert_eq!(warning.kind, ComposeError::VariableNotSet("TAG".into()));
    assert_eq!((warning.line(), warning.column(), warning.path.as_str()), (3, 12, "services.web.image"));
}

#[test]
fn required_variable_error_has_message_and_position() {
    let diagnostics = errors("services:\n  web:\n    image: ${IMAGE:?set IMAGE first}\n");
    let error = error_at(&diagnostics, 3, 12, "services.web.image");
    assert_eq!(error, ComposeError::RequiredVariable { name: "IMAGE".into(), message: "set IMAGE first".into() });
    assert!(diagnostics[0].to_string().contains("/srv/app/compose.yaml:3:12"));
}

#[test]
fn question_mark_form_accepts_empty_but_not_unset() {
    let options = LoadOptions { env: env(&[("IMAGE", "")]), ..LoadOptions::default() };
    let source = "services:\n  web:\n    image: busybox${IMAGE?unset}\n";
    assert!(load_with(&[(FILE, source)], &options).is_ok());
    assert!(load_one(source).is_err());
}

#[test]
fn escaped_dollar_stays_literal() {
    let project = project("services:\n  web:\n    image: nginx\n    command: echo $$HOME\n");
    assert_eq!(service(&project, "web").command.as_deref(), Some(&["echo".to_string(), "$HOME".to_string()][..]));
}

#[test]
fn invalid_interpolation_is_positioned() {
    let diagnostics = errors("services:\n  web:\n    image: nginx\n    command: echo $1\n");
    assert!(matches!(error_at(&diagnostics, 4, 14, "services.web.command"), ComposeError::InvalidInterpolation { .. }));
}

#[test]
fn environment_name_without_value_comes_from_the_environment() {
    let options = LoadOptions { env: env(&[("SECRET", "s3")]), ..LoadOptions::default() };
    let source = "services:\n  web:\n    image: nginx\n    environment: [SECRET, UNKNOWN]\n";
    let loaded = load_with(&[(FILE, source)], &options).expect("loads");
    let web = service(&loaded.project, "web");
    assert_eq!(web.environment.get("SECRET"), Some(&Some("s3".to_string())));
    assert_eq!(web.environment.get("UNKNOWN"), Some(&None));
}

// ---------------------------------------------------------------------------------------------------------------
// One test per error kind: line:column and path

#[test]
fn yaml_syntax_error() {
    let diagnostics = errors("services:\n  web:\n    image: [nginx\n");
    assert!(matches!(diagnostics[0].kind, ComposeError::Yaml(_)));
    assert_eq!(diagnostics[0].file, FILE);
    assert!(diagnostics[0].line() >= 3);
}

#[test]
fn unknown_key_suggests_the_closest() {
    let diagnostics = errors("services:\n  web:\n    imgae: nginx\n");
    let error = error_at(&diagnostics, 3, 5, "services.web.imgae");
    assert_eq!(error, ComposeError::UnknownKey { key: "imgae".into(), suggestion: Some("image".into()) });
    assert!(error.to_string().contains("did you mean \"image\""));
}

#[test]
fn unknown_top_level_key() {
    let diagnostics = errors("servics:\n  web:\n    image: nginx\n");
    let error = error_at(&diagnostics, 1, 1, "servics");
    assert_eq!(error, ComposeError::UnknownKey { key: "servics".into(), suggestion: Some("services".into()) });
}

#[test]
fn unsupported_keys_only_warn_and_extensions_are_silent() {
    let loaded =
        load_one("x-meta: 1\nservices:\n  web:\n    image: nginx\n    platform: linux/amd64\n    x-note: hi\n")
            .expect("loads");
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.warnings[0].kind, ComposeError::UnsupportedKey("platform".into()));
    assert_eq!(loaded.warnings[0].path, "services.web.platform");
}

#[test]
fn wrong_type() {
    let diagnostics = errors("services:\n  web:\n    image: nginx\n    cap_add: NET_ADMIN\n");
    let error = error_at(&diagnostics, 4, 14, "services.web.cap_add");
    assert_eq!(error, ComposeError::WrongType { expected: "sequence", found: "scalar" });
}

#[test]
fn wrong_scalar_value() {
    let diagnostics = errors("services:\n  web:\n    image: nginx\n    read_only: maybe\n");
    error_at(&diagnostics, 4, 16, "services.web.read_only");
    let diagnostics = errors("services:\n  web:\n    image: nginx\n    restart: sometimes\n");
    assert!(matches!(error_at(&diagnostics, 4, 14, "services.web.restart"), ComposeError::InvalidValue { .. }));
}

#[test]
fn missing_depends_on_target() {
    let diagnostics = errors("services:\n  web:\n    image: nginx\n    depends_on:\n      - db\n");
    let error = error_at(&diagnostics, 5, 9, "services.web.depends_on.db");
    assert_eq!(
        error,
        ComposeError::UndefinedService { service: "web".into(), relation: "depends on", target: "db".into() }
    );
}

#[test]
fn missing_depends_on_target_in_map_form() {
    let diagnostics =
        errors("services:\n  web:\n    image: nginx\n    depends_on:\n      db:\n        condition: service_healthy\n");
    error_at(&diagnostics, 5, 7, "services.web.depends_on.db");
}

#[test]
fn optional_missing_dependency_only_warns() {
    let source = "services:\n  web:\n    image: nginx\n    depends_on:\n      db: {required: false}\n";
    let loaded = load_one(source).expect("loads");
    assert!(matches!(loaded.warnings[0].kind, ComposeError::UndefinedService { .. }));
}

#[test]
fn missing_link_target() {
    let diagnostics = errors("services:\n  web:\n    image: nginx\n    links:\n      - db:database\n");
    let error = error_at(&diagnostics, 5, 9, "services.web.links[0]");
    assert_eq!(
        error,
        ComposeError::UndefinedService { service: "web".into(), relation: "links to", target: "db".into() }
    );
}

#[test]
fn dependency_cycle_is_named() {
    let source = "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    links: [c]\n  c:\n    image: x\n    depends_on: [a]\n";
    let diagnostics = errors(source);
    let error = error_at(&diagnostics, 4, 18, "services.a.depends_on.b");
    assert_eq!(error, ComposeError::DependencyCycle(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    assert!(error.to_string().contains("a -> b -> c -> a"));
}

#[test]
fn unparsable_port() {
    let diagnostics = errors("services:\n  web:\n    image: nginx\n    ports:\n      - 80:80\n      - \"80:http\"\n");
    assert!(matches!(error_at(&diagnostics, 6, 9, "services.web.ports[1]"), ComposeError::InvalidPort { .. }));
}

#[test]
fn invalid_volume() {
    let diagnostics = errors("services:\n  web:\n    image: nginx\n    volumes: [\"data:relative\"]\n");
    assert!(matches!(error_at(&diagnostics, 4, 15, "services.web.volumes[0]"), ComposeError::InvalidVolume { .. }));
}

#[test]
fn missing_env_file() {
    let diagnostics = errors("services:\n  web:\n    image: nginx\n    env_file:\n      - ./a.env\n");
    let error = error_at(&diagnostics, 5, 9, "services.web.env_file[0]");
    assert_eq!(error, ComposeError::MissingEnvFile("/srv/app/a.env".into()));
}

#[test]
fn bad_env_file_line_is_positioned_in_the_env_file() {
    let files = |_: &str| Some("OK=1\nnot valid\n".to_string());
    let options = LoadOptions { files: &files, ..LoadOptions::default() };
    let diagnostics =
        load_with(&[(FILE, "services:\n  web:\n    image: nginx\n    env_file: a.env\n")], &options).expect_err("bad");
    assert_eq!(
        (diagnostics[0].file.as_str(), diagnostics[0].line(), diagnostics[0].column()),
        ("/srv/app/a.env", 2, 1)
    );
}

#[test]
fn invalid_service_name() {
    let diagnostics = errors("services:\n  -web:\n    image: nginx\n");
    assert_eq!(error_at(&diagnostics, 2, 3, "services.-web"), ComposeError::InvalidServiceName("-web".into()));
}

#[test]
fn service_without_image_or_build() {
    let diagnostics = errors("services:\n  web:\n    restart: always\n");
    error_at(&diagnostics, 2, 3, "services.web");
}

#[test]
fn undefined_network_volume_and_secret() {
    let diagnostics = errors(
        "services:\n  web:\n    image: nginx\n    networks: [back]\n    volumes: [\"data:/data\"]\n    secrets: [token]\n",
    );
    let kinds: Vec<(usize, usize, &str)> = diagnostics
        .iter()
        .map(|diagnostic| (diagnostic.line(), diagnostic.column(), diagnostic.path.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [(4, 16, "services.web.networks.back"), (5, 15, "services.web.volumes[0]"), (6, 15, "services.web.secrets[0]")]
    );
}

#[test]
fn extends_of_a_missing_service() {
    let diagnostics = errors("services:\n  web:\n    image: nginx\n    extends: base\n");
    let error = error_at(&diagnostics, 4, 14, "services.web.extends");
    assert_eq!(error, ComposeError::ExtendsMissingService { service: "base".into(), file: FILE.into() });
}

#[test]
fn extends_of_a_missing_file() {
    let diagnostics = errors("services:\n  web:\n    extends: {file: base.yaml, service: base}\n");
    assert_eq!(
        error_at(&diagnostics, 3, 14, "services.web.extends"),
        ComposeError::MissingExtendsFile("/srv/app/base.yaml".into())
    );
}

#[test]
fn extends_cycle() {
    let diagnostics = errors("services:\n  a:\n    extends: b\n  b:\n    extends: a\n");
    assert!(matches!(error_at(&diagnostics, 5, 14, "services.b.extends"), ComposeError::ExtendsCycle(_)));
}

#[test]
fn invalid_duration_and_size() {
    let diagnostics = errors("services:\n  web:\n    image: nginx\n    stop_grace_period: 10\n    shm_size: lots\n");
    assert_eq!(
        error_at(&diagnostics, 4, 24, "services.web.stop_grace_period"),
        ComposeError::InvalidDuration("10".into())
    );
    assert_eq!((diagnostics[1].line(), diagnostics[1].path.as_str()), (5, "services.web.shm_size"));
}

#[test]
fn dotenv_errors_name_the_dotenv_file() {
    let options = LoadOptions { dotenv: Some("GOOD=1\n=bad\n".into()), ..LoadOptions::default() };
    let diagnostics = load_with(&[(FILE, "services:\n  web: {image: x}\n")], &options).expect_err("bad .env");
    assert_eq!((diagnostics[0].file.as_str(), diagnostics[0].line()), (".env", 2));
}

#[test]
fn no_files_is_an_error() {
    assert_eq!(load(&[], &LoadOptions::default()).expect_err("no files")[0].kind, ComposeError::NoFiles);
}

// ---------------------------------------------------------------------------------------------------------------
// Override merge and extends

#[test]
fn later_files_override_earlier_ones() {
    let base = r#"
services:
  web:
    image: nginx:1
    command: ["serve", "--a"]
    environment: {A: "1", B: "2"}
    labels: [one=1]
    ports: ["80:80"]
    expose: ["3000"]
    dns: [1.1.1.1]
    volumes: ["data:/data", "./conf:/etc/conf"]
    healthcheck: {test: ["CMD", "true"], interval: 10s}
  db:
    image: postgres
volumes:
  data: {}
"#;
    let over = r#"
services:
  web:
    image: nginx:2
    command: serve --b
    environment: [B=3, C=4]
    labels: {two: "2"}
    ports: ["80:80", "443:443"]
    expose: ["3000", "4000"]
    dns: [8.8.8.8]
    volumes: ["/srv/other:/data:ro"]
    healthcheck: {timeout: 5s}
  cache:
    image: redis
"#;
    let loaded =
        load_with(&[(FILE, base), ("/srv/app/compose.override.yaml", over)], &LoadOptions::default()).expect("loads");
    let project = loaded.project;
    assert_eq!(project.services.keys().collect::<Vec<_>>(), ["web", "db", "cache"]);
    let web = service(&project, "web");
    assert_eq!(web.image.as_deref(), Some("nginx:2"));
    assert_eq!(web.command.as_deref(), Some(&["serve".to_string(), "--b".to_string()][..]));
    let environment: Vec<(&str, Option<&str>)> =
        web.environment.iter().map(|(name, value)| (name.as_str(), value.as_deref())).collect();
    assert_eq!(environment, [("A", Some("1")), ("B", Some("3")), ("C", Some("4"))]);
    assert_eq!(web.labels.keys().collect::<Vec<_>>(), ["one", "two"]);
    assert_eq!(web.ports.iter().map(|port| port.target).collect::<Vec<_>>(), [80, 443]);
    assert_eq!(web.expose, ["3000", "4000"]);
    assert_eq!(web.dns, ["1.1.1.1", "8.8.8.8"]);
    assert_eq!(web.volumes.len(), 2);
    assert_eq!(web.volumes[0].source.as_deref(), Some("/srv/other"));
    assert!(web.volumes[0].read_only);
    let healthcheck = web.healthcheck.as_ref().expect("healthcheck");
    assert_eq!(healthcheck.test, ["CMD", "true"]);
    assert_eq!(
        (healthcheck.interval, healthcheck.timeout),
        (Some(Duration::from_secs(10)), Some(Duration::from_secs(5)))
    );
}

#[test]
fn errors_in_an_override_file_name_that_file() {
    let over = "services:\n  web:\n    depends_on: [ghost]\n";
    let diagnostics =
        load_with(&[(FILE, "services:\n  web: {image: x}\n"), ("/srv/app/over.yaml", over)], &LoadOptions::default())
            .expect_err("ghost");
    assert_eq!(
        (diagnostics[0].file.as_str(), diagnostics[0].line(), diagnostics[0].column()),
        ("/srv/app/over.yaml", 3, 18)
    );
}

#[test]
fn extends_chains_across_two_files() {
    let common = r#"
services:
  base:
    image: busybox
    environment: {LEVEL: base, BASE_ONLY: "yes"}
    volumes: ["./shared:/shared"]
  middle:
    extends: base
    environment: {LEVEL: middle}
    cap_add: [NET_ADMIN]
"#;
    let files = |path: &str| (path == "/srv/common/common.yaml").then(|| common.to_string());
    let options = LoadOptions { files: &files, ..LoadOptions::default() };
    let source = "services:\n  web:\n    extends:\n      file: ../common/common.yaml\n      service: middle\n    environment: {LEVEL: web}\n    command: [run]\n";
    let loaded = load_with(&[(FILE, source)], &options).expect("loads");
    let web = service(&loaded.project, "web");
    assert_eq!(web.image.as_deref(), Some("busybox"));
    assert_eq!(web.environment.get("LEVEL"), Some(&Some("web".to_string())));
    assert_eq!(web.environment.get("BASE_ONLY"), Some(&Some("yes".to_string())));
    assert_eq!(web.cap_add, ["NET_ADMIN"]);
    assert_eq!(web.command.as_deref(), Some(&["run".to_string()][..]));
    // The base's relative path stays relative to the file that wrote it.
    assert_eq!(web.volumes[0].source.as_deref(), Some("/srv/common/shared"));
    // Services of the extended file are not part of the project.
    assert_eq!(loaded.project.services.keys().collect::<Vec<_>>(), ["web"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Startup order, hashes, config output

#[test]
fn startup_order_puts_dependencies_first() {
    let project = project(
        "services:\n  web:\n    image: x\n    depends_on: [api]\n  api:\n    image: x\n    depends_on: [db, cache]\n    network_mode: service:net\n  cache: {image: x}\n  db: {image: x}\n  net: {image: x}\n",
    );
    assert_eq!(project.startup_order().expect("no cycle"), ["db", "cache", "net", "api", "web"]);
    assert_eq!(project.dependencies("api"), ["db", "cache", "net"]);
    let depths = project.startup_depths().expect("no cycle");
    assert_eq!(depths, [("db", 0), ("cache", 0), ("net", 0), ("api", 1), ("web", 2)]);
}

#[test]
fn long_dependency_chains_do_not_overflow_the_stack() {
    let mut source = String::from("services:\n");
    for index in 0..5_000 {
        source.push_str(&format!("  s{index}:\n    image: x\n"));
        if index > 0 {
            source.push_str(&format!("    depends_on: [s{}]\n", index - 1));
        }
    }
    let project = project(&source);
    let order = project.startup_order().expect("no cycle");
    assert_eq!((order.first().copied(), order.last().copied()), (Some("s0"), Some("s4999")));
}

#[test]
fn startup_order_reports_cycles() {
    let mut project = project("services:\n  a: {image: x}\n  b: {image: x}\n");
    if let Some(a) = project.services.get_mut("a") {
        a.depends_on.insert("b".into(), Dependency::default());
    }
    if let Some(b) = project.services.get_mut("b") {
        b.depends_on.insert("a".into(), Dependency::default());
    }
    assert_eq!(project.startup_order(), Err(ComposeError::DependencyCycle(vec!["a".into(), "b".into(), "a".into()])));
}

#[test]
fn config_hash_is_stable_and_sensitive() {
    let first = project("services:\n  web:\n    image: nginx\n    environment: {A: '1', B: '2'}\n  db: {image: x}\n");
    let reordered =
        project("services:\n  db: {image: x}\n  web:\n    environment: {A: '1', B: '2'}\n    image: nginx\n");
    let hash = first.config_hash("web").expect("web");
    assert_eq!(hash.len(), 64);
    assert_eq!(Some(hash.clone()), reordered.config_hash("web"));
    // Pinned so that a change to the canonical form (which would recreate every container) is deliberate.
    assert_eq!(hash, first.config_hash("web").expect("web"));
    let changed = project("services:\n  web:\n    image: nginx\n    environment: {A: '1', B: '3'}\n  db: {image: x}\n");
    assert_ne!(Some(hash.clone()), changed.config_hash("web"));
    let with_dependency =
        project("services:\n  web:\n    image: nginx\n    environment: {A: '1', B: '2'}\n    depends_on: [db]\n  db: {image: x}\n");
    assert_eq!(Some(hash), with_dependency.config_hash("web"));
    assert_eq!(first.config_hash("ghost"), None);
}

#[test]
fn config_hash_is_pinned() {
    // A change to this value recreates every container of every project on upgrade: make it on purpose.
    let project = project("name: pinned\nservices:\n  web:\n    image: nginx\n    ports: [\"80:80\"]\n    cpus: 0.5\n");
    assert_eq!(
        project.config_hash("web").expect("web"),
        "b041b936c790d08a4bc1553aa50e6aa8fbaaacbef8e46f93cc1c36479ad20da8"
    );
}

#[test]
fn invalid_project_name() {
    let diagnostics = errors("name: \"..\"\nservices:\n  web: {image: x}\n");
    assert_eq!(error_at(&diagnostics, 1, 7, "name"), ComposeError::InvalidProjectName("..".into()));
}

const ROUND_TRIP_SOURCE: &str = r#"
name: shop
services:
  web:
    build: {context: ./web, args: {VERSION: "1.0", EMPTY: null}}
    image: "shop/web:1.0"
    command: sh -c 'echo $$HOME && exit 0'
    entrypoint: []
    environment: {A: "true", B: "010", C: null, D: "with spaces: and # hash", E: "", F: "${NAME:-x}"}
    ports: ["8080:80", "127.0.0.1:9000-9001:9000-9001/udp", {target: 443, published: "8443-8445", mode: host}]
    expose: ["3000"]
    volumes: ["data:/data:ro,nocopy", "./conf:/etc/conf", {type: tmpfs, target: /tmp, tmpfs: {size: 1k}}]
    networks: {front: {aliases: [www]}, default: null}
    depends_on: {db: {condition: service_healthy, restart: true}}
    restart: unless-stopped
    user: "1000"
    healthcheck: {test: ["CMD", "curl", "-f", "http://x"], interval: 1m30s, retries: 3, start_period: 1500ms}
    labels: {yes: "no", "a b": c}
    mem_limit: 1.5g
    memswap_limit: -1
    cpus: 0.25
    ulimits: {nofile: {soft: 10, hard: 20}}
    read_only: false
    tmpfs: [/run]
    init: true
    stop_grace_period: 2m
    logging: {driver: json-file, options: {max-size: 1m}}
    secrets: [token]
    configs: [{source: conf, target: /etc/app.conf, mode: 0644}]
    deploy: {resources: {limits: {cpus: "2", memory: 2g, pids: 10}, reservations: {memory: 1g}}}
    profiles: [web]
    extra_hosts: ["db.local:10.0.0.2"]
    sysctls: {net.ipv4.ip_forward: "1"}
    shm_size: 128m
  db:
    image: postgres:16
    network_mode: host
networks:
  front: {driver: bridge, ipam: {config: [{subnet: 172.28.0.0/16}]}}
  outside: {external: true}
volumes:
  data: {labels: {keep: "1"}}
secrets:
  token: {environment: TOKEN}
configs:
  conf: {file: ./app.conf}
"#;

#[test]
fn config_output_loads_back_to_the_same_project() {
    let options = LoadOptions { profiles: vec!["*".into()], ..LoadOptions::default() };
    let loaded = load_with(&[(FILE, ROUND_TRIP_SOURCE)], &options).expect("loads");
    let yaml = to_yaml(&loaded.project);
    let reloaded = match load_with(&[("/elsewhere/config.yaml", &yaml)], &options) {
        Ok(reloaded) => reloaded,
        Err(diagnostics) => panic!("config output does not load:\n{}\n---\n{yaml}", render(&diagnostics)),
    };
    assert_eq!(reloaded.project, loaded.project, "\n{yaml}");
    assert_eq!(to_yaml(&reloaded.project), yaml);
    assert!(reloaded.warnings.is_empty(), "{}", render(&reloaded.warnings));
}

#[test]
fn config_output_is_deterministic_and_readable() {
    let yaml = to_yaml(&project("services:\n  web:\n    image: nginx\n    environment: {B: '1', A: $$x}\n"));
    assert_eq!(
        yaml,
        "name: app\nservices:\n  web:\n    environment:\n      A: \"$$x\"\n      B: \"1\"\n    image: nginx\n    networks:\n      default: {}\nnetworks:\n  default:\n    name: app_default\n"
    );
}

#[test]
fn config_output_writes_long_keys_explicitly() {
    // Found by fuzz/ (compose): a key of a few hundred control characters, each escaped as `\u0013` when quoted,
    // came out longer than YAML lets an implicit key be.
    let long = "K\u{13}".repeat(300);
    let label = "l".repeat(1500);
    let source = format!(
        "services:\n  web:\n    image: nginx\n    environment:\n      ? \"{long}\"\n      : v\n    labels:\n      ? {label}\n      : w\n"
    );
    let loaded = project(&source);
    let yaml = to_yaml(&loaded);
    assert!(yaml.contains("      ? \"K\\u0013K"), "{yaml}");
    let reloaded = match load_one(&yaml) {
        Ok(reloaded) => reloaded.project,
        Err(diagnostics) => panic!("config output does not load:\n{}\n---\n{yaml}", render(&diagnostics)),
    };
    assert_eq!(reloaded.services["web"].environment, loaded.services["web"].environment);
    assert_eq!(reloaded.services["web"].labels, loaded.services["web"].labels);
    assert_eq!(to_yaml(&reloaded), yaml);
}

#[test]
fn model_round_trips_through_json() {
    let options = LoadOptions { profiles: vec!["*".into()], ..LoadOptions::default() };
    let project = load_with(&[(FILE, ROUND_TRIP_SOURCE)], &options).expect("loads").project;
    let json = serde_json::to_string(&project).expect("serializes");
    let back: Project = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, project);
}

// ---------------------------------------------------------------------------------------------------------------
// Robustness

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_input_panics(source in "\\PC*") {
        let _ = load_one(&source);
    }

    #[test]
    fn no_compose_shaped_input_panics(
        key in prop::sample::select(vec!["image", "ports", "volumes", "depends_on", "extends", "environment",
            "healthcheck", "ulimits", "command", "networks", "deploy", "build", "secrets", "env_file", "cpus"]),
        value in prop::sample::select(vec!["x", "[a, b]", "{a: 1}", "\"${X:-${Y}}\"", "-1", "\"::::\"", "[{}]",
            "{target: 0}", "[\"1-2:3-4/udp\"]", "null", "&a [*a]", "99999999999999999999"]),
    ) {
        let _ = load_one(&format!("services:\n  web:\n    {key}: {value}\n  other:\n    image: y\n"));
    }

    #[test]
    fn no_yaml_shaped_input_panics(source in "[a-z0-9:\\-\\[\\]{}&*!|>'\"#%@ \n,?$<.]{0,120}") {
        let _ = load_one(&source);
        let _ = load_one(&format!("services:\n  web:\n    {source}"));
    }

    #[test]
    fn interpolation_never_panics(text in "[$\\{\\}:?+\\-a-zA-Z_0-9 ]{0,40}") {
        let _ = interpolate(&text, &|name: &str| (name.len() > 3).then(|| name.to_string()));
    }

    #[test]
    fn dotenv_never_panics(text in "[A-Za-z_=#'\"\\\\\n $\\{\\}]{0,60}") {
        let _ = parse_dotenv(&text, &|_| None);
    }
}

#[test]
fn a_services_berth_route_is_decoded_and_checked() {
    let loaded = load_one(
        "services:\n  blue:\n    image: busybox\n    x-berth-route: {route: web, host_port: 8080, port: 80, mode: blue-green, live: true}\n  green:\n    image: busybox\n    x-berth-route: {route: web, port: 80}\n",
    )
    .expect("loads");
    let blue = loaded.project.services["blue"].berth_route.clone().expect("blue's route");
    assert_eq!(
        (blue.route.as_str(), blue.host_port, blue.port, blue.mode.as_str(), blue.live),
        ("web", 8080, 80, "blue-green", true)
    );
    let green = loaded.project.services["green"].berth_route.clone().expect("green's route");
    assert_eq!((green.host_port, green.live), (0, false));
    let errors = load_one("services:\n  a:\n    image: busybox\n    x-berth-route: {route: web}\n").unwrap_err();
    assert!(errors.iter().any(|e| e.path == "services.a.x-berth-route"), "{errors:?}");
    let errors =
        load_one("services:\n  a:\n    image: busybox\n    x-berth-route: {route: web, port: 80, colour: red}\n")
            .unwrap_err();
    assert!(errors.iter().any(|e| e.path == "services.a.x-berth-route.colour"), "{errors:?}");
}
