//! The route page's create form into a `POST /berth/routes` body: backends written `CONTAINER:PORT` (or
//! `NAME=CONTAINER:PORT`), one per line or separated by commas; the mode's fields filled from their order (the
//! first is blue/green's live backend and shadow's primary; weighted shares 100 % out evenly).

use std::collections::BTreeMap;

use berth_shared::api::routes::{BackendRef, RouteCreate, RouteMode, RouteProtocol, DEFAULT_DRAIN_MS};

/// The forms the page offers (a ramp needs a schedule: `berth route` or the API make those).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormMode {
    BlueGreen,
    Weighted,
    Shadow,
}

impl FormMode {
    pub const ALL: [FormMode; 3] = [FormMode::BlueGreen, FormMode::Weighted, FormMode::Shadow];

    pub fn slug(self) -> &'static str {
        match self {
            FormMode::BlueGreen => "blue-green",
            FormMode::Weighted => "weighted",
            FormMode::Shadow => "shadow",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FormMode::BlueGreen => "Blue/green",
            FormMode::Weighted => "Weighted (A/B)",
            FormMode::Shadow => "Shadow",
        }
    }

    pub fn from_slug(slug: &str) -> FormMode {
        FormMode::ALL.into_iter().find(|mode| mode.slug() == slug).unwrap_or(FormMode::BlueGreen)
    }
}

/// The form's request, or what is wrong with it, worded for the person filling it in.
pub fn route_create(name: &str, port: &str, mode: FormMode, backends: &str) -> Result<RouteCreate, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("Give the route a name.".into());
    }
    let host_port = match port.trim().parse::<u16>() {
        Ok(port) if port > 0 => port,
        _ => return Err(format!("The port {:?} is not a port number (1-65535).", port.trim())),
    };
    let backends = backends
        .split([',', '\n'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(backend)
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = backends.iter().map(|b| b.name.clone()).collect();
    let mode = match (mode, names.as_slice()) {
        (_, [] | [_]) => return Err("Give two backends or more, as container:port.".into()),
        (FormMode::BlueGreen, [first, ..]) => RouteMode::BlueGreen { live: first.clone(), drain_ms: DEFAULT_DRAIN_MS },
        (FormMode::Shadow, [primary, shadow]) => RouteMode::Shadow { primary: primary.clone(), shadow: shadow.clone() },
        (FormMode::Shadow, _) => return Err("A shadow route has two backends: the primary, then the shadow.".into()),
        (FormMode::Weighted, names) => {
            RouteMode::Weighted { weights: even_weights(names), sticky: None, rules: vec![] }
        }
    };
    if let Some(duplicate) = names.iter().enumerate().find(|(i, name)| names[..*i].contains(name)).map(|(_, n)| n) {
        return Err(format!("Two backends are named {duplicate}: name them NAME=CONTAINER:PORT."));
    }
    Ok(RouteCreate { name: name.to_string(), host_port, host_ip: None, protocol: RouteProtocol::Http, backends, mode })
}

/// `CONTAINER:PORT` or `NAME=CONTAINER:PORT`.
fn backend(entry: &str) -> Result<BackendRef, String> {
    let (name, target) = match entry.split_once('=') {
        Some((name, target)) => (name.trim(), target.trim()),
        None => ("", entry),
    };
    let Some((container, port)) = target.rsplit_once(':') else {
        return Err(format!("{entry:?}: write a backend as container:port."));
    };
    let port = match port.parse::<u16>() {
        Ok(port) if port > 0 => port,
        _ => return Err(format!("{entry:?}: {port:?} is not a port number.")),
    };
    let container = container.trim();
    if container.is_empty() {
        return Err(format!("{entry:?}: name the container before the port."));
    }
    let name = if name.is_empty() { container } else { name };
    Ok(BackendRef {
        name: name.to_string(),
        container: Some(container.to_string()),
        service: None,
        project: None,
        port,
    })
}

/// 100 % shared out as evenly as whole percents go, the first ones taking the rest.
fn even_weights(names: &[String]) -> BTreeMap<String, u32> {
    let count = names.len() as u32;
    names
        .iter()
        .enumerate()
        .map(|(i, name)| (name.clone(), 100 / count + u32::from((i as u32) < 100 % count)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn a_blue_green_form_names_backends_by_container() {
        let create = route_create("web", " 8080 ", FormMode::BlueGreen, "blue:80\ngreen=web-green:8000").unwrap();
        assert_eq!(create.host_port, 8080);
        assert_eq!(create.backends[0].name, "blue");
        assert_eq!(create.backends[1].name, "green");
        assert_eq!(create.backends[1].container.as_deref(), Some("web-green"));
        assert_eq!(create.backends[1].port, 8000);
        assert_eq!(create.mode, RouteMode::BlueGreen { live: "blue".into(), drain_ms: DEFAULT_DRAIN_MS });
    }

    #[wasm_bindgen_test]
    fn weighted_shares_out_100_and_bad_input_is_named() {
        let create = route_create("ab", "9000", FormMode::Weighted, "a:80, b:80, c:80").unwrap();
        let RouteMode::Weighted { weights, .. } = create.mode else { panic!("not weighted") };
        assert_eq!(weights.values().copied().collect::<Vec<_>>(), vec![34, 33, 33]);
        assert_eq!(
            route_create("ab", "x", FormMode::Weighted, "a:80, b:80").unwrap_err(),
            "The port \"x\" is not a port number (1-65535)."
        );
        assert!(route_create("ab", "90", FormMode::Weighted, "a:80").unwrap_err().contains("two backends"));
        assert!(route_create("ab", "90", FormMode::Weighted, "a:80, a:81").unwrap_err().contains("Two backends"));
        assert!(route_create("ab", "90", FormMode::Shadow, "a, b:80").unwrap_err().contains("container:port"));
    }
}
