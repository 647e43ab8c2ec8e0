//! Images for services without `build:`: pulled through the daemon's `POST /images/create`, as docker compose
//! does for `pull`, and for `up` when the daemon does not have them yet.

use anyhow::Context;
use berth_shared::api::compose::ServiceStep;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use super::client::Session;

/// Pulls the images of `services` (all when empty) that have no `build:`; with `only_missing`, only those the
/// daemon does not have.
pub async fn pull_services(session: &Session, services: &[String], only_missing: bool) -> anyhow::Result<()> {
    session.check_services(services)?;
    for (service, definition) in &session.project.services {
        if (!services.is_empty() && !services.contains(service)) || definition.build.is_some() {
            continue;
        }
        let image = session.image_name(service);
        if only_missing && session.docker.inspect_image(&image).await.is_ok() {
            continue;
        }
        session.progress.service(service, None, ServiceStep::Pulling, &format!("Pulling {image}"));
        let options = CreateImageOptionsBuilder::new().from_image(&with_tag(&image)).build();
        let mut messages = session.docker.create_image(Some(options), None, None);
        while let Some(message) = messages.next().await {
            let info = message.with_context(|| format!("pull {image} for service {service}"))?;
            if let Some(detail) = info.error_detail {
                anyhow::bail!("pull {image} for service {service}: {}", detail.message.unwrap_or_default());
            }
        }
        session.progress.service(service, None, ServiceStep::Pulled, &format!("Pulled {image}"));
    }
    Ok(())
}

/// `name` with `:latest` when it names no tag or digest (the Engine API pulls every tag of a bare name).
fn with_tag(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if name.contains('@') || last.contains(':') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

#[cfg(test)]
mod tests {
    use super::with_tag;

    #[test]
    fn bare_names_get_latest() {
        assert_eq!(with_tag("redis"), "redis:latest");
        assert_eq!(with_tag("127.0.0.1:5000/app"), "127.0.0.1:5000/app:latest");
        assert_eq!(with_tag("redis:7"), "redis:7");
        assert_eq!(with_tag("redis@sha256:abc"), "redis@sha256:abc");
    }
}
