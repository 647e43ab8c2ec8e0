//! A container's filesystem from outside: `docker diff`, `docker export`, `docker cp` and `docker commit`.
//! Every path a client names is resolved inside the container's root by `image::archive`.

use std::path::PathBuf;
use std::sync::Arc;

use bollard_stubs::models::{ChangeType, FilesystemChange};

use super::container::Container;
use super::mount_paths;
use super::{Engine, EngineError};
use berth_fs::id_shift::IdShift;
use berth_image::{archive, ImageConfigChanges};

fn join_error(e: tokio::task::JoinError) -> EngineError {
    EngineError::io("background task", std::io::Error::other(e))
}

impl Engine {
    /// The read-only layers under the container's upper dir, lowest first: the image's, then the init layer.
    pub(super) fn lower_dirs(&self, container: &Container) -> Result<Vec<PathBuf>, EngineError> {
        let image = self.images.get(&container.record().image_id)?;
        let mut layers = self.images.layer_dirs(&image)?;
        let init = container.init_layer();
        if init.exists() {
            layers.push(init);
        }
        Ok(layers)
    }

    /// Mounts the container's rootfs if it is not mounted (a stopped container, for cp and export).
    pub async fn ensure_rootfs(self: &Arc<Self>, container: &Arc<Container>) -> Result<PathBuf, EngineError> {
        let engine = self.clone();
        let container = container.clone();
        tokio::task::spawn_blocking(move || -> Result<PathBuf, EngineError> {
            let layers = engine.lower_dirs(&container)?;
            let merged = container.rootfs();
            berth_runtime::mount_rootfs(
                &layers,
                &container.upper_dir(),
                &container.work_dir(),
                &merged,
                berth_image::vfs::apply_layer,
                container.record().id_shift.as_ref(),
            )?;
            Ok(merged)
        })
        .await
        .map_err(join_error)?
    }

    pub async fn changes(self: &Arc<Self>, reference: &str) -> Result<Vec<FilesystemChange>, EngineError> {
        let container = self.container(reference)?;
        let engine = self.clone();
        tokio::task::spawn_blocking(move || -> Result<Vec<FilesystemChange>, EngineError> {
            let layers = engine.lower_dirs(&container)?;
            Ok(archive::changes(&container.upper_dir(), &layers)
                .into_iter()
                .map(|change| FilesystemChange {
                    path: change.path,
                    kind: match change.kind {
                        archive::CHANGE_ADDED => ChangeType::_1,
                        archive::CHANGE_DELETED => ChangeType::_2,
                        _ => ChangeType::_0,
                    },
                })
                .collect())
        })
        .await
        .map_err(join_error)?
    }

    /// `docker cp`'s stat of a path in the container (HEAD archive, and before GET).
    pub async fn path_stat(self: &Arc<Self>, reference: &str, path: &str) -> Result<archive::PathStat, EngineError> {
        self.with_located(reference, path, move |at, _| {
            let mut stat = archive::stat(&at.root, &at.path)?;
            if let Some(name) = at.name {
                stat.name = name;
            }
            Ok(stat)
        })
        .await
    }

    /// `docker cp ctr:path -`: the entry at `path` as a tar, written to `out` as it is read.
    pub async fn copy_out(
        self: &Arc<Self>,
        reference: &str,
        path: &str,
        out: impl std::io::Write + Send + 'static,
    ) -> Result<(), EngineError> {
        self.with_located(reference, path, move |at, ids| match at.name {
            Some(name) => Ok(archive::write_tar_as(&at.root, &at.path, &name, out, ids)?),
            None => Ok(archive::write_tar(&at.root, &at.path, out, ids)?),
        })
        .await
    }

    /// What refuses a copy into `dir` before a byte of it is read: a read-only rootfs or mount.
    pub fn check_copy_in(&self, reference: &str, dir: &str) -> Result<(), EngineError> {
        let record = self.container(reference)?.snapshot();
        let mounts = super::volumes::mounts_of(&record);
        match mount_paths::covering_mount(&mounts, dir) {
            Some((mount, _)) if mount.read_only => {
                Err(EngineError::Forbidden("mounted volume is marked read-only".into()))
            }
            Some(_) => Ok(()),
            None if record.host_config.readonly_rootfs.unwrap_or(false) => {
                Err(EngineError::Forbidden("container rootfs is marked read-only".into()))
            }
            None => Ok(()),
        }
    }

    /// `docker cp - ctr:dir`: a tar unpacked into the directory `dir` of the container, held to the daemon's
    /// unpacked-size limit. A read-only rootfs or mount refuses it.
    pub async fn copy_in(
        self: &Arc<Self>,
        reference: &str,
        dir: &str,
        tar: impl std::io::Read + Send + 'static,
        no_overwrite_dir_non_dir: bool,
    ) -> Result<(), EngineError> {
        self.check_copy_in(reference, dir)?;
        let max_unpacked = Some(self.limits().max_unpacked);
        self.with_located(reference, dir, move |at, ids| {
            Ok(archive::extract_tar(&at.root, &at.path, tar, no_overwrite_dir_non_dir, max_unpacked, ids)?)
        })
        .await
    }

    /// `docker export`: the container's whole filesystem as a tar, written to `out` as it is read.
    pub async fn export(
        self: &Arc<Self>,
        reference: &str,
        out: impl std::io::Write + Send + 'static,
    ) -> Result<(), EngineError> {
        self.with_rootfs(reference, move |root, ids| Ok(archive::export(&root, out, ids)?)).await
    }

    /// Runs `work` with `path` located in the container's mounted rootfs or in the mount that holds it, and the
    /// container's user namespace ids (None: the host's), on a blocking thread.
    async fn with_located<T: Send + 'static>(
        self: &Arc<Self>,
        reference: &str,
        path: &str,
        work: impl FnOnce(mount_paths::Located, Option<IdShift>) -> Result<T, EngineError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let container = self.container(reference)?;
        let rootfs = self.ensure_rootfs(&container).await?;
        let record = container.snapshot();
        let mounts = super::volumes::mounts_of(&record);
        let at = mount_paths::locate(&container, &mounts, &rootfs, path);
        tokio::task::spawn_blocking(move || work(at, record.id_shift)).await.map_err(join_error)?
    }

    /// Runs `work` with the mounted rootfs and the container's user namespace ids (None: the host's) on a
    /// blocking thread.
    async fn with_rootfs<T: Send + 'static>(
        self: &Arc<Self>,
        reference: &str,
        work: impl FnOnce(PathBuf, Option<IdShift>) -> Result<T, EngineError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let container = self.container(reference)?;
        let rootfs = self.ensure_rootfs(&container).await?;
        let ids = container.record().id_shift;
        tokio::task::spawn_blocking(move || work(rootfs, ids)).await.map_err(join_error)?
    }

    /// `docker commit`: the container's upper dir becomes a new layer on top of its image.
    pub async fn commit(
        self: &Arc<Self>,
        reference: &str,
        repo_tag: Option<String>,
        changes: Vec<String>,
        comment: Option<String>,
        author: Option<String>,
        pause: bool,
    ) -> Result<String, EngineError> {
        let container = self.container(reference)?;
        let record = container.snapshot();
        let cgroup = container.cgroup();
        let paused_here = pause && container.status() == super::Status::Running;
        if paused_here {
            if let Some(cgroup) = &cgroup {
                cgroup.freeze()?;
            }
        }
        let engine = self.clone();
        let upper = container.upper_dir();
        let created_by = {
            let mut command = vec![record.path.clone()];
            command.extend(record.args.iter().cloned());
            command.join(" ")
        };
        let result = tokio::task::spawn_blocking(move || -> Result<String, EngineError> {
            let parent = engine.images.get(&record.image_id)?;
            let mut base = parent.config.config().clone().unwrap_or_default();
            base.set_cmd(record.config.cmd.clone());
            base.set_entrypoint(record.config.entrypoint.clone());
            base.set_env(record.config.env.clone());
            base.set_working_dir(record.config.working_dir.clone());
            base.set_user(record.config.user.clone());
            base.set_labels(record.config.labels.clone());
            let config_changes = ImageConfigChanges { config: Some(base), changes };
            let image = engine.images.commit(
                Some(&parent),
                &upper,
                record.id_shift,
                config_changes,
                repo_tag.as_deref(),
                comment.as_deref(),
                author.as_deref(),
                &created_by,
            )?;
            Ok(image.id)
        })
        .await
        .map_err(join_error);
        if paused_here {
            if let Some(cgroup) = &cgroup {
                let _ = cgroup.thaw();
            }
        }
        let id = result??;
        self.events.emit(
            bollard_stubs::models::EventMessageTypeEnum::CONTAINER,
            "commit",
            &container.id,
            self.container_attributes(&container),
        );
        Ok(id)
    }

    pub async fn update(
        self: &Arc<Self>,
        reference: &str,
        update: bollard_stubs::models::ContainerUpdateBody,
    ) -> Result<Vec<String>, EngineError> {
        let container = self.container(reference)?;
        let _op = container.op.lock().await;
        let mut host = container.record().host_config.clone();
        macro_rules! take {
            ($($field:ident),*) => { $( if update.$field.is_some() { host.$field = update.$field.clone(); } )* };
        }
        take!(memory, memory_swap, cpu_shares, nano_cpus, cpu_quota, cpu_period, pids_limit, restart_policy);
        if update.memory.is_some() && update.memory_swap.is_none() {
            host.memory_swap = None;
        }
        super::spec::validate_host_config(&host)?;
        if let Some(cgroup) = container.cgroup() {
            cgroup.update(&super::spec::resources(&host)?)?;
        }
        container.update(|r| r.host_config = host)?;
        self.emit(&container, "update");
        Ok(Vec::new())
    }
}
