//! One test per rule: it fires on a bad example, stays silent on the corrected one, and its fix (where it has
//! one), applied to the text, silences it.

use super::*;
use crate::dockerfile::parse;

fn diagnostics(source: &str, id: &str) -> Vec<Diagnostic> {
    let dockerfile = match parse(source) {
        Ok(dockerfile) => dockerfile,
        Err(error) => panic!("{error}\n--- source ---\n{source}"),
    };
    lint(&dockerfile, &LintConfig::all()).into_iter().filter(|diagnostic| diagnostic.rule == id).collect()
}

#[track_caller]
fn fires(source: &str, id: &str) -> Diagnostic {
    match diagnostics(source, id).into_iter().next() {
        Some(diagnostic) => diagnostic,
        None => panic!("{id} did not fire on:\n{source}"),
    }
}

#[track_caller]
fn silent(source: &str, id: &str) {
    let found = diagnostics(source, id);
    assert!(found.is_empty(), "{id} fired on:\n{source}\n{found:#?}");
}

/// Applies the rule's fixes one at a time until it is silent; returns the fixed text.
#[track_caller]
fn fixed(source: &str, id: &str) -> String {
    let mut text = source.to_string();
    for _ in 0..10 {
        let found = diagnostics(&text, id);
        let Some(diagnostic) = found.first() else {
            return text;
        };
        let Some(fix) = &diagnostic.fix else { panic!("{id} has no fix for:\n{text}") };
        text = apply_fix(&text, fix);
    }
    panic!("{id} still fires after its fixes:\n{text}");
}

#[track_caller]
fn fix_silences(source: &str, id: &str) -> String {
    let text = fixed(source, id);
    silent(&text, id);
    text
}

#[test]
fn registry_is_complete_and_stable() {
    assert!(RULES.len() >= 22);
    for (index, rule) in RULES.iter().enumerate() {
        assert_eq!(rule.id, format!("BL{:03}", index + 1), "ids are dense and ordered");
        assert!(RULES.iter().filter(|other| other.name == rule.name).count() == 1, "{} twice", rule.name);
    }
    assert_eq!(find_rule("BL024").map(|rule| rule.enabled_by_default), Some(false));
    assert!(RULES.iter().filter(|rule| rule.id != "BL024").all(|rule| rule.enabled_by_default));
}

#[test]
fn config_turns_rules_on_and_off() {
    let dockerfile = parse("FROM ubuntu\n").expect("parses");
    let defaults = lint(&dockerfile, &LintConfig::default());
    assert!(defaults.iter().any(|diagnostic| diagnostic.rule == "BL001"));
    let without = lint(&dockerfile, &LintConfig::default().disable("BL001"));
    assert!(!without.iter().any(|diagnostic| diagnostic.rule == "BL001"));
    let mut config = LintConfig::default();
    config.rules.insert("BL001".into(), RuleSetting { enabled: None, severity: Some(Severity::Error) });
    let raised = lint(&dockerfile, &config);
    assert!(raised.iter().any(|diagnostic| diagnostic.rule == "BL001" && diagnostic.severity == Severity::Error));
    let pins = parse("FROM a:1\nRUN apk add --no-cache curl\n").expect("parses");
    assert!(!lint(&pins, &LintConfig::default()).iter().any(|diagnostic| diagnostic.rule == "BL024"));
}

#[test]
fn diagnostics_serialize_for_the_web_app() {
    let diagnostic = fires("FROM a:1\nMAINTAINER me\n", "BL015");
    let json = serde_json::to_value(&diagnostic).expect("serializes");
    assert_eq!(json["rule"], "BL015");
    assert_eq!(json["severity"], "warning");
    assert_eq!(json["span"]["start"]["line"], 2);
    assert!(json["fix"]["edits"][0]["replacement"].as_str().is_some());
}

#[test]
fn bl001_image_without_tag() {
    let diagnostic = fires("FROM ubuntu\nUSER app\n", "BL001");
    assert_eq!((diagnostic.span.start.line, diagnostic.span.start.column), (1, 6));
    fires("ARG BASE=ubuntu\nFROM $BASE\n", "BL001");
    silent("FROM ubuntu:24.04\n", "BL001");
    silent("FROM ubuntu@sha256:abcd\n", "BL001");
    silent("FROM scratch\n", "BL001");
    silent("ARG BASE\nFROM $BASE\n", "BL001");
    silent("FROM golang:1.22 AS build\nFROM build\n", "BL001");
}

#[test]
fn bl002_latest_tag() {
    fires("FROM node:latest\n", "BL002");
    silent("FROM node:22-slim\n", "BL002");
    silent("FROM node:latest@sha256:abcd\n", "BL002");
}

#[test]
fn bl003_no_digest() {
    let diagnostic = fires("FROM node:22\n", "BL003");
    assert_eq!(diagnostic.severity, Severity::Info);
    silent("FROM node:22@sha256:0123abcd\n", "BL003");
}

#[test]
fn bl004_repeated_final_settings() {
    let source =
        "FROM a:1\nCMD [\"a\"]\nENTRYPOINT [\"x\"]\nCMD [\"b\"]\nHEALTHCHECK NONE\nHEALTHCHECK CMD [\"true\"]\n";
    let found = diagnostics(source, "BL004");
    assert_eq!(found.iter().map(|diagnostic| diagnostic.span.start.line).collect::<Vec<_>>(), vec![2, 5]);
    silent("FROM a:1\nCMD [\"a\"]\nFROM b:1\nCMD [\"b\"]\n", "BL004");
    let text = fix_silences(source, "BL004");
    assert!(text.contains("CMD [\"b\"]") && !text.contains("CMD [\"a\"]"));
}

#[test]
fn bl005_shell_form_commands() {
    fires("FROM a:1\nCMD node server.js\n", "BL005");
    fires("FROM a:1\nENTRYPOINT exec nginx -g 'daemon off;'\n", "BL005");
    silent("FROM a:1\nCMD [\"node\", \"server.js\"]\n", "BL005");
    let text = fix_silences("FROM a:1\nCMD node server.js\n", "BL005");
    assert!(text.contains("CMD [\"node\", \"server.js\"]"), "{text}");
    // A command that needs its shell has no exec form that means the same: warned, no fix offered.
    assert!(fires("FROM a:1\nCMD echo $HOME && \\\n  run\n", "BL005").fix.is_none());
    assert!(fires("FROM a:1\nENTRYPOINT exec nginx -g 'daemon off;'\n", "BL005").fix.is_none());
    // A broken JSON array is named as such, and not rewritten into `["/bin/sh", "-c", "[\"sh\""]`.
    let broken = fires("FROM a:1\nCMD [\"sh\"\n", "BL005");
    assert!(broken.fix.is_none() && broken.message.contains("not valid JSON"), "{broken:?}");
    let text = fix_silences("FROM a:1\nENTRYPOINT exec nginx\n", "BL005");
    assert!(text.contains("ENTRYPOINT [\"nginx\"]"), "{text}");
}

#[test]
fn bl006_add_instead_of_copy() {
    fires("FROM a:1\nADD src/ /app/\n", "BL006");
    silent("FROM a:1\nADD rootfs.tar.gz /\n", "BL006");
    silent("FROM a:1\nADD https://example.com/tool /usr/bin/tool\n", "BL006");
    silent("FROM a:1\nADD --checksum=sha256:ab https://x/y /y\n", "BL006");
    silent("FROM a:1\nADD git@github.com:a/b.git /src\n", "BL006");
    let text = fix_silences("FROM a:1\nadd --chown=1:1 src/ /app/\n", "BL006");
    assert!(text.contains("COPY --chown=1:1 src/ /app/"), "{text}");
}

#[test]
fn bl007_final_user_root() {
    fires("FROM a:1\nRUN make\n", "BL007");
    let diagnostic = fires("FROM a:1\nUSER app\nUSER root:root\n", "BL007");
    assert_eq!(diagnostic.span.start.line, 3);
    silent("FROM a:1 AS build\nFROM b:1\nUSER 1000:1000\n", "BL007");
    fires("FROM a:1\nUSER app\nFROM b:1\n", "BL007");
}

#[test]
fn bl008_apt_get_install_without_yes() {
    let source = "FROM debian:12\nRUN apt-get update && apt-get install --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n";
    fires(source, "BL008");
    silent(&source.replace("install ", "install -y "), "BL008");
    silent(&source.replace("apt-get install", "apt-get -qq install"), "BL008");
    let text = fix_silences(source, "BL008");
    assert!(text.contains("apt-get install -y --no-install-recommends curl"), "{text}");
}

#[test]
fn bl008_fix_lands_on_a_continuation_line() {
    let source = "FROM debian:12\nRUN apt-get update \\\n    && apt-get install --no-install-recommends curl \\\n    && rm -rf /var/lib/apt/lists/*\n";
    let diagnostic = fires(source, "BL008");
    assert_eq!((diagnostic.span.start.line, diagnostic.span.start.column), (3, 16));
    let text = fix_silences(source, "BL008");
    assert!(text.contains("    && apt-get install -y --no-install-recommends curl \\\n"), "{text}");
}

#[test]
fn bl009_install_recommends() {
    let source = "FROM debian:12\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n";
    fires(source, "BL009");
    silent(&source.replace("-y curl", "-y -o APT::Install-Recommends=false curl"), "BL009");
    let text = fix_silences(source, "BL009");
    assert!(text.contains("install --no-install-recommends -y curl"), "{text}");
}

#[test]
fn bl010_apt_lists_not_removed() {
    let source = "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl\n";
    fires(source, "BL010");
    silent(
        "FROM debian:12\nRUN --mount=type=cache,target=/var/lib/apt apt-get update && apt-get install -y curl\n",
        "BL010",
    );
    let text = fix_silences(source, "BL010");
    assert!(text.ends_with("curl && rm -rf /var/lib/apt/lists/*\n"), "{text}");
    let heredoc = "FROM debian:12\nRUN <<EOF\napt-get update\napt-get install -y --no-install-recommends curl\nEOF\n";
    fires(heredoc, "BL010");
    let text = fix_silences(heredoc, "BL010");
    assert!(text.contains("curl\nrm -rf /var/lib/apt/lists/*\nEOF\n"), "{text}");
}

#[test]
fn bl011_apt_get_update_alone() {
    fires("FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n", "BL011");
    silent("FROM debian:12\nRUN apt-get update && apt-get install -y curl\n", "BL011");
}

#[test]
fn bl012_deleted_in_later_layer() {
    let source = "FROM debian:12\nWORKDIR /tmp\nRUN curl -o app.tgz https://example.com/app.tgz\nCOPY big.bin /opt/big.bin\nRUN tar xzf app.tgz && rm app.tgz\nRUN rm -rf /opt/big.bin\n";
    let found = diagnostics(source, "BL012");
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].message.contains("line 3"), "{}", found[0].message);
    assert!(found[1].message.contains("COPY on line 4"), "{}", found[1].message);
    assert_eq!(found[1].wasted_bytes, None);
    silent(
        "FROM debian:12\nRUN curl -o /tmp/app.tgz https://x/app.tgz && tar xzf /tmp/app.tgz && rm /tmp/app.tgz\n",
        "BL012",
    );
    silent("FROM a:1\nCOPY x /x\nFROM b:1\nRUN rm /x\n", "BL012");
}

#[test]
fn bl013_invalid_expose() {
    fires("FROM a:1\nEXPOSE 70000\n", "BL013");
    fires("FROM a:1\nEXPOSE 80/http\n", "BL013");
    fires("FROM a:1\nEXPOSE 9000-8000\n", "BL013");
    fires("FROM a:1\nEXPOSE eighty\n", "BL013");
    silent("FROM a:1\nEXPOSE 80 443/tcp 53/UDP 8000-8010/udp 9/sctp $PORT\n", "BL013");
}

#[test]
fn bl014_relative_workdir() {
    fires("FROM a:1\nWORKDIR app\n", "BL014");
    silent("FROM a:1\nWORKDIR /app\nWORKDIR $HOME/x\n", "BL014");
    silent("# escape=`\nFROM a:1\nWORKDIR C:\\app\n", "BL014");
}

#[test]
fn bl015_maintainer_deprecated() {
    let source = "FROM a:1\nMAINTAINER Jane \"JD\" Doe <jane@example.com>\n";
    fires(source, "BL015");
    let text = fix_silences(source, "BL015");
    assert!(text.contains("LABEL maintainer=\"Jane \\\"JD\\\" Doe <jane@example.com>\""), "{text}");
    let dockerfile = parse(&text).expect("the fix parses");
    let Some(Command::Label(labels)) = dockerfile.instructions.last().map(|instruction| &instruction.command) else {
        panic!("{text}")
    };
    let value = crate::dockerfile::substitute(&labels.pairs[0].value.raw, |_| None);
    assert_eq!(value.as_deref(), Ok("Jane \"JD\" Doe <jane@example.com>"));
}

#[test]
fn bl016_cd_in_run() {
    fires("FROM a:1\nRUN cd /src && make\n", "BL016");
    silent("FROM a:1\nWORKDIR /src\nRUN make\n", "BL016");
}

#[test]
fn bl017_sudo() {
    fires("FROM a:1\nRUN sudo apt-get update && sudo apt-get install -y x\n", "BL017");
    silent("FROM a:1\nUSER root\nRUN apt-get update\n", "BL017");
}

#[test]
fn bl018_pipe_without_pipefail() {
    fires("FROM a:1\nRUN wget -O - https://x/key | gpg --dearmor > /k.gpg\n", "BL018");
    silent("FROM a:1\nRUN set -o pipefail && wget -O - https://x/key | gpg --dearmor > /k.gpg\n", "BL018");
    silent("FROM a:1\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN wget -O - https://x | gpg\n", "BL018");
    silent("FROM a:1\nSHELL [\"powershell\", \"-Command\"]\nRUN Get-Item x | Remove-Item\n", "BL018");
    silent("FROM a:1\nRUN make || true\n", "BL018");
}

#[test]
fn bl019_copy_from_unknown_stage() {
    let diagnostic = fires("FROM a:1 AS build\nFROM b:1\nCOPY --from=buidl /out /out\n", "BL019");
    assert!(diagnostic.message.contains("did you mean `build`"), "{}", diagnostic.message);
    fires("FROM a:1\nCOPY --from=1 /x /x\nFROM b:1\n", "BL019");
    fires("FROM b:1\nCOPY --from=later /x /x\nFROM a:1 AS later\n", "BL019");
    silent("FROM a:1 AS build\nFROM b:1\nCOPY --from=BUILD /x /x\nCOPY --from=0 /y /y\n", "BL019");
    silent("FROM b:1\nCOPY --from=nginx:latest /etc/nginx /etc/nginx\nCOPY --from=ghcr.io/a/b /x /x\n", "BL019");
    let text = fix_silences("FROM a:1 AS build\nFROM b:1\nCOPY --from=buidl /out /out\n", "BL019");
    assert!(text.contains("COPY --from=build /out /out"), "{text}");
}

#[test]
fn bl020_from_later_stage() {
    fires("FROM base\nFROM alpine:3 AS base\n", "BL020");
    fires("FROM app AS app\n", "BL020");
    silent("FROM alpine:3 AS base\nFROM base\n", "BL020");
}

#[test]
fn bl021_duplicate_stage_name() {
    let diagnostic = fires("FROM a:1 AS build\nFROM b:1 AS Build\n", "BL021");
    assert_eq!(diagnostic.span.start.line, 2);
    silent("FROM a:1 AS build\nFROM b:1 AS test\n", "BL021");
}

#[test]
fn bl022_curl_pipe_shell() {
    fires("FROM a:1\nRUN curl -fsSL https://get.example.com | sh\n", "BL022");
    fires("FROM a:1\nRUN wget -qO- https://x | sudo bash -s --\n", "BL022");
    silent("FROM a:1\nRUN curl -fsSLo install.sh https://x && sha256sum -c sums && sh install.sh\n", "BL022");
}

#[test]
fn bl023_apk_add_without_no_cache() {
    let source = "FROM alpine:3\nRUN apk add curl\n";
    fires(source, "BL023");
    silent("FROM alpine:3\nRUN apk add --no-cache curl\n", "BL023");
    silent("FROM alpine:3\nRUN --mount=type=cache,target=/var/cache/apk apk add curl\n", "BL023");
    let text = fix_silences(source, "BL023");
    assert!(text.contains("apk add --no-cache curl"), "{text}");
}

#[test]
fn bl024_unpinned_packages() {
    let found =
        diagnostics("FROM debian:12\nRUN apt-get install -y -t bookworm curl git=1:2.39 ./local.deb\n", "BL024");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].message.contains("`curl`"));
    fires("FROM alpine:3\nRUN apk add --no-cache --virtual .deps curl\n", "BL024");
    silent("FROM alpine:3\nRUN apk add --no-cache --virtual .deps curl=8.5.0-r0\n", "BL024");
}

#[test]
fn bl025_unknown_flag() {
    let diagnostic = fires("FROM a:1 AS build\nFROM b:1\nCOPY --frmo=build /x /x\n", "BL025");
    assert!(diagnostic.message.starts_with("unknown flag: frmo"), "{}", diagnostic.message);
    fires("FROM a:1\nENV --x=1 A=b\n", "BL025");
    fires("FROM a:1\nONBUILD RUN --mnt=type=cache,target=/c make\n", "BL025");
    silent("FROM a:1\nRUN --mount=type=cache,target=/c --network=none make\n", "BL025");
    let text = fix_silences("FROM a:1 AS build\nFROM b:1\nCOPY --frmo=build /x /x\n", "BL025");
    assert!(text.contains("COPY --from=build /x /x"), "{text}");
}

#[test]
fn bl026_secret_in_env_or_arg() {
    fires("FROM a:1\nENV DB_PASSWORD=hunter2\n", "BL026");
    fires("FROM a:1\nARG GITHUB_TOKEN\n", "BL026");
    fires("FROM a:1\nENV api_key x\n", "BL026");
    silent("FROM a:1\nENV DB_PASSWORD_FILE=/run/secrets/db\nARG VERSION\n", "BL026");
}

#[test]
fn bl027_unused_arg() {
    let source = "ARG BASE_TAG=3 UNUSED_META=x\nFROM alpine:${BASE_TAG}\nARG VERSION=1 DEBUG\nRUN echo $VERSION\n";
    let found = diagnostics(source, "BL027");
    let names: Vec<&str> =
        found.iter().map(|diagnostic| diagnostic.message.split_whitespace().nth(1).unwrap_or("")).collect();
    assert_eq!(names, vec!["UNUSED_META", "DEBUG"]);
    silent("ARG V=1\nFROM a:1\nARG V\nRUN echo ${V}\n", "BL027");
    silent("FROM debian:12\nARG DEBIAN_FRONTEND=noninteractive\nRUN apt-get update\n", "BL027");
    silent("FROM a:1\nARG PORT=80\nEXPOSE $PORT\n", "BL027");
    let text = fix_silences(source, "BL027");
    assert!(text.starts_with("ARG BASE_TAG=3\n"), "{text}");
    assert!(text.contains("ARG VERSION=1\n"), "{text}");
    let text = fix_silences("FROM a:1\nARG UNUSED\nRUN true\n", "BL027");
    assert!(!text.contains("ARG"), "{text}");
}

#[test]
fn clean_dockerfile_has_no_warnings() {
    let source = r#"# syntax=docker/dockerfile:1
FROM golang:1.22@sha256:0123abcd AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app

FROM debian:12-slim@sha256:4567ef01
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates=20230311 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/app /usr/local/bin/app
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/app"]
"#;
    let dockerfile = parse(source).expect("parses");
    let found = lint(&dockerfile, &LintConfig::all());
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn linting_a_thousand_lines_is_cheap() {
    let mut source = String::from("ARG BASE=debian:12\nFROM ${BASE} AS build\n");
    for index in 0..200 {
        source.push_str(&format!(
            "RUN apt-get update && apt-get install curl{index} | tee /tmp/log{index} \\\n    && cd /src && make target{index}\nCOPY file{index} /app/file{index}\nRUN rm -rf /app/file{index}\nENV TOKEN{index}=x\n"
        ));
    }
    source.push_str("FROM build\nCMD run\n");
    assert!(source.lines().count() >= 1000);
    let dockerfile = parse(&source).expect("parses");
    // Timing belongs to benchmarks; this proves a large file goes through every rule.
    let found = lint(&dockerfile, &LintConfig::all());
    assert!(found.len() > 1000);
}

#[test]
fn bl028_empty_run() {
    let found = fires("FROM a:1\nRUN\nRUN echo ok\n", "BL028");
    assert_eq!((found.span.start.line, found.span.start.column), (2, 1));
    assert_eq!(diagnostics("FROM a:1\nRUN   \nRUN []\n", "BL028").len(), 2);
    silent("FROM a:1\nRUN true\nRUN <<EOF\necho hi\nEOF\n", "BL028");
}

#[test]
fn a_misspelt_keyword_gets_its_guess() {
    use crate::dockerfile::ast::keyword_suggestion;
    assert_eq!(keyword_suggestion("FORM"), Some("FROM"));
    assert_eq!(keyword_suggestion("runn"), Some("RUN"));
    assert_eq!(keyword_suggestion("COPPY"), Some("COPY"));
    assert_eq!(keyword_suggestion("BANANA"), None);
}
