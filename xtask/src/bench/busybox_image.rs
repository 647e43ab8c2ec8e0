//! The same `busybox:latest` on both engines: Berth's built-in image (made from the host's static /bin/busybox)
//! is exported from a Berth container and imported into dockerd with the same Env, Cmd, Entrypoint and WorkingDir.
//! If Berth cannot export, the rootfs is made the way Berth makes it, from /bin/busybox.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::daemons::Daemon;

const IMAGE: &str = "busybox:latest";

/// Imports Berth's busybox into dockerd, unless dockerd already has one. Returns how the rootfs was obtained.
pub fn copy_to_dockerd(berth: &Daemon, dockerd: &Daemon, work_dir: &Path) -> Result<&'static str> {
    if dockerd.docker.try_run(&["image", "inspect", IMAGE]).is_some() {
        return Ok("already present");
    }
    std::fs::create_dir_all(work_dir)?;
    let tar = work_dir.join("busybox-rootfs.tar");
    let tar_arg = tar.to_string_lossy().into_owned();
    let source = match export_from_berth(berth, &tar_arg) {
        Ok(()) => "exported from Berth",
        Err(error) => {
            println!(
                "xtask bench: exporting busybox from Berth failed ({error:#}); building the rootfs from /bin/busybox"
            );
            rootfs_from_host_busybox(&work_dir.join("rootfs"), &tar)?;
            "built from /bin/busybox"
        }
    };
    let config_json = berth.docker.output(&["image", "inspect", IMAGE, "--format", "{{json .Config}}"])?;
    let config: Value = serde_json::from_str(&config_json).context("decoding Berth's busybox config")?;
    let mut args: Vec<String> = vec!["import".into()];
    for change in dockerfile_changes(&config) {
        args.push("--change".into());
        args.push(change);
    }
    args.push(tar_arg);
    args.push(IMAGE.into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    dockerd.docker.run(&args)?;
    let _ = std::fs::remove_file(&tar);
    Ok(source)
}

fn export_from_berth(berth: &Daemon, tar: &str) -> Result<()> {
    let id = berth.docker.output(&["create", IMAGE, "true"])?;
    let exported = berth.docker.run(&["export", "--output", tar, &id]);
    berth.docker.run(&["rm", "-f", &id])?;
    exported?;
    if std::fs::metadata(tar).map(|metadata| metadata.len()).unwrap_or(0) < 100_000 {
        bail!("the export is too small to hold busybox");
    }
    Ok(())
}

/// The `--change` lines that give an imported image the config of `config` (a Docker image Config object).
fn dockerfile_changes(config: &Value) -> Vec<String> {
    let mut changes = Vec::new();
    for variable in config["Env"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if let Some((name, value)) = variable.split_once('=') {
            changes.push(format!("ENV {name}={value}"));
        }
    }
    if let Some(dir) = config["WorkingDir"].as_str().filter(|dir| !dir.is_empty()) {
        changes.push(format!("WORKDIR {dir}"));
    }
    if config["Entrypoint"].as_array().is_some_and(|entrypoint| !entrypoint.is_empty()) {
        changes.push(format!("ENTRYPOINT {}", config["Entrypoint"]));
    }
    if config["Cmd"].as_array().is_some_and(|cmd| !cmd.is_empty()) {
        changes.push(format!("CMD {}", config["Cmd"]));
    }
    changes
}

/// /bin/busybox with a link per applet, /etc/passwd and /etc/group, as Berth's default image has them.
fn rootfs_from_host_busybox(rootfs: &Path, tar: &Path) -> Result<()> {
    use std::os::unix::fs::symlink;
    for dir in ["bin", "etc", "tmp", "proc", "sys", "dev", "root"] {
        std::fs::create_dir_all(rootfs.join(dir))?;
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).context("copying /bin/busybox (busybox-static)")?;
    let applets = Command::new("/bin/busybox").arg("--list").output().context("listing busybox applets")?;
    for applet in String::from_utf8_lossy(&applets.stdout).lines().filter(|applet| *applet != "busybox") {
        symlink("busybox", rootfs.join("bin").join(applet))?;
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnobody:x:65534:\n")?;
    crate::command::run(Command::new("tar").arg("-C").arg(rootfs).arg("-cf").arg(tar).arg("."))?;
    std::fs::remove_dir_all(rootfs)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::dockerfile_changes;
    use serde_json::json;

    #[test]
    fn config_becomes_import_changes() {
        let config = json!({
            "Env": ["PATH=/usr/bin:/bin", "A=b=c"],
            "Cmd": ["sh"],
            "Entrypoint": null,
            "WorkingDir": "",
        });
        assert_eq!(dockerfile_changes(&config), ["ENV PATH=/usr/bin:/bin", "ENV A=b=c", "CMD [\"sh\"]"]);
    }
}
