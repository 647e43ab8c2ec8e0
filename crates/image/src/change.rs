//! Dockerfile instructions applied to an image config: `docker commit --change` / `docker import --change`.
//!
//! Supported: `CMD`, `ENTRYPOINT` (JSON and shell forms), `ENV`, `LABEL`, `WORKDIR`, `USER`, `EXPOSE`,
//! `VOLUME`, `STOPSIGNAL`.

use std::collections::HashMap;

use oci_spec::image::Config;

use super::error::ImageError;

/// Config changes for [`super::ImageStore::commit`].
#[derive(Debug, Clone, Default)]
pub struct ImageConfigChanges {
    /// The base config (for `docker commit`, the container's config); `None` keeps the parent image's.
    pub config: Option<Config>,
    /// Dockerfile lines applied on top, in order (`CMD ["sh"]`, `ENV A=b`, ...).
    pub changes: Vec<String>,
}

/// Apply Dockerfile lines to `config` in order. A bad line → [`ImageError::InvalidChange`] naming it.
pub fn apply_changes(config: &mut Config, lines: &[String]) -> Result<(), ImageError> {
    let mut cmd_set = false;
    for line in lines {
        apply_one(config, line, &mut cmd_set)?;
    }
    Ok(())
}

fn apply_one(config: &mut Config, line: &str, cmd_set: &mut bool) -> Result<(), ImageError> {
    let invalid = |reason: &str| ImageError::InvalidChange { line: line.to_string(), reason: reason.to_string() };
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Ok(());
    }
    let (word, rest) = match trimmed.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (trimmed, ""),
    };
    let instruction = word.to_ascii_uppercase();
    if rest.is_empty() {
        return Err(invalid(&format!("{instruction} requires at least one argument")));
    }
    match instruction.as_str() {
        "CMD" => {
            config.set_cmd(Some(command_form(rest).map_err(|r| invalid(&r))?));
            *cmd_set = true;
        }
        "ENTRYPOINT" => {
            config.set_entrypoint(Some(command_form(rest).map_err(|r| invalid(&r))?));
            if !*cmd_set {
                config.set_cmd(None);
            }
        }
        "ENV" => {
            let pairs = key_values(rest, true).map_err(|r| invalid(&r))?;
            let mut env = config.env().clone().unwrap_or_default();
            for (k, v) in pairs {
                let entry = format!("{k}={v}");
                match env.iter_mut().find(|e| e.split_once('=').map(|(ek, _)| ek) == Some(k.as_str())) {
                    Some(e) => *e = entry,
                    None => env.push(entry),
                }
            }
            config.set_env(Some(env));
        }
        "LABEL" => {
            let pairs = key_values(rest, false).map_err(|r| invalid(&r))?;
            let mut labels: HashMap<String, String> = config.labels().clone().unwrap_or_default();
            labels.extend(pairs);
            config.set_labels(Some(labels));
        }
        "WORKDIR" => {
            let dir = unquote_single(rest).map_err(|r| invalid(&r))?;
            let joined = if dir.starts_with('/') {
                dir
            } else {
                let base = config.working_dir().clone().unwrap_or_else(|| "/".to_string());
                format!("{}/{}", base.trim_end_matches('/'), dir)
            };
            config.set_working_dir(Some(joined));
        }
        "USER" => {
            config.set_user(Some(unquote_single(rest).map_err(|r| invalid(&r))?));
        }
        "STOPSIGNAL" => {
            config.set_stop_signal(Some(unquote_single(rest).map_err(|r| invalid(&r))?));
        }
        "EXPOSE" => {
            let mut ports = config.exposed_ports().clone().unwrap_or_default();
            for w in words(rest).map_err(|r| invalid(&r))? {
                for p in expand_port(&w).map_err(|r| invalid(&r))? {
                    if !ports.contains(&p) {
                        ports.push(p);
                    }
                }
            }
            config.set_exposed_ports(Some(ports));
        }
        "VOLUME" => {
            let vols = if rest.starts_with('[') {
                json_array(rest).map_err(|r| invalid(&r))?
            } else {
                words(rest).map_err(|r| invalid(&r))?
            };
            let mut all = config.volumes().clone().unwrap_or_default();
            for v in vols {
                if v.is_empty() {
                    return Err(invalid("VOLUME specified can not be an empty string"));
                }
                if !all.contains(&v) {
                    all.push(v);
                }
            }
            config.set_volumes(Some(all));
        }
        other => return Err(invalid(&format!("{other} is not a supported change instruction"))),
    }
    Ok(())
}

/// JSON form (`["a","b"]`) or shell form (`/bin/sh -c "<rest>"`).
fn command_form(rest: &str) -> Result<Vec<String>, String> {
    if rest.starts_with('[') {
        if let Ok(v) = json_array(rest) {
            return Ok(v);
        }
    }
    Ok(vec!["/bin/sh".to_string(), "-c".to_string(), rest.to_string()])
}

fn json_array(s: &str) -> Result<Vec<String>, String> {
    serde_json::from_str::<Vec<String>>(s).map_err(|e| format!("invalid JSON array: {e}"))
}

/// `80`, `80/udp`, `8000-8002/tcp` → `["80/tcp"]`, ...
fn expand_port(w: &str) -> Result<Vec<String>, String> {
    let (range, proto) = match w.split_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (w, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let parse = |p: &str| p.parse::<u16>().map_err(|_| format!("invalid port: {p}"));
    let (lo, hi) = match range.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let p = parse(range)?;
            (p, p)
        }
    };
    if lo > hi {
        return Err(format!("invalid port range: {range}"));
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

/// `k=v k2="v 2"`; with `legacy_space`, `ENV K v w` (no '=') means K="v w".
fn key_values(rest: &str, legacy_space: bool) -> Result<Vec<(String, String)>, String> {
    let ws = words(rest)?;
    let first_has_eq = ws.first().map(|w| w.contains('=')).unwrap_or(false);
    if !first_has_eq {
        if !legacy_space {
            return Err("expected key=value".to_string());
        }
        let (k, v) = rest.split_once(char::is_whitespace).ok_or("expected a value")?;
        return Ok(vec![(k.to_string(), v.trim().to_string())]);
    }
    ws.into_iter()
        .map(|w| match w.split_once('=') {
            Some(("", _)) => Err("empty key".to_string()),
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!("expected key=value, got {w:?}")),
        })
        .collect()
}

fn unquote_single(rest: &str) -> Result<String, String> {
    let ws = words(rest)?;
    if ws.len() == 1 {
        Ok(ws.into_iter().next().unwrap_or_default())
    } else {
        Ok(rest.to_string())
    }
}

/// Split like a shell: whitespace separates, quotes group, backslash escapes (not inside single quotes).
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated single quote".to_string()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => cur.push(c),
                            None => return Err("unterminated double quote".to_string()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unterminated double quote".to_string()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    cur.push(c);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(lines: &[&str]) -> Result<Config, ImageError> {
        let mut c = Config::default();
        apply_changes(&mut c, &lines.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
        Ok(c)
    }

    #[test]
    fn cmd_and_entrypoint_forms() {
        let c = apply(&[r#"CMD ["sh", "-c", "echo hi"]"#]).unwrap();
        assert_eq!(c.cmd().as_deref().unwrap(), ["sh", "-c", "echo hi"]);
        let c = apply(&["cmd echo hello world"]).unwrap();
        assert_eq!(c.cmd().as_deref().unwrap(), ["/bin/sh", "-c", "echo hello world"]);
        let c = apply(&[r#"ENTRYPOINT ["/bin/app"]"#]).unwrap();
        assert_eq!(c.entrypoint().as_deref().unwrap(), ["/bin/app"]);
        assert!(c.cmd().is_none());
        let c = apply(&[r#"CMD ["x"]"#, r#"ENTRYPOINT ["/e"]"#]).unwrap();
        assert_eq!(c.cmd().as_deref().unwrap(), ["x"]);
    }

    #[test]
    fn env_label_workdir_user() {
        let c = apply(&[
            r#"ENV A=b C="d e" F=g\ h"#,
            "ENV LEGACY some value",
            "ENV A=z",
            r#"LABEL a=b "c d"=e"#,
            "WORKDIR /app",
            "WORKDIR sub",
            "USER nobody:nogroup",
            "STOPSIGNAL SIGTERM",
        ])
        .unwrap();
        assert_eq!(c.env().as_deref().unwrap(), ["A=z", "C=d e", "F=g h", "LEGACY=some value"]);
        let labels = c.labels().as_ref().unwrap();
        assert_eq!(labels["a"], "b");
        assert_eq!(labels["c d"], "e");
        assert_eq!(c.working_dir().as_deref(), Some("/app/sub"));
        assert_eq!(c.user().as_deref(), Some("nobody:nogroup"));
        assert_eq!(c.stop_signal().as_deref(), Some("SIGTERM"));
    }

    #[test]
    fn expose_and_volume() {
        let c = apply(&["EXPOSE 80 53/udp 8000-8001", r#"VOLUME ["/data", "/logs"]"#, "VOLUME /x /y"]).unwrap();
        assert_eq!(c.exposed_ports().as_deref().unwrap(), ["80/tcp", "53/udp", "8000/tcp", "8001/tcp"]);
        assert_eq!(c.volumes().as_deref().unwrap(), ["/data", "/logs", "/x", "/y"]);
    }

    #[test]
    fn bad_changes_name_the_line() {
        for bad in ["FROM busybox", "EXPOSE http", "EXPOSE 80/xyz", "CMD", "LABEL novalue", "ENV A=\"x", "RUN ls"] {
            match apply(&[bad]) {
                Err(ImageError::InvalidChange { line, .. }) => assert_eq!(line, bad),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
