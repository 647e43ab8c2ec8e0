//! Hash routes (`#/containers/abc/logs`): the daemon owns every real path (the Engine API is on the same origin),
//! so the app's locations live after the `#`.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Playground,
    Images,
    Layers {
        image: String,
    },
    Containers,
    Container {
        id: String,
        tab: ContainerTab,
    },
    /// A terminal session opened from a shared link.
    SharedTerminal {
        session: String,
        readonly: bool,
    },
    Networks,
    Volumes,
    /// The compose editor and its project.
    Compose,
    /// What a reviewer would flag in each container's configuration.
    Security,
    /// Routed ports (blue/green, weighted, shadow).
    Routes,
    /// One route with its backends, live.
    RoutedPort {
        name: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerTab {
    Terminal,
    Logs,
    Stats,
    Inspect,
    Changes,
}

impl ContainerTab {
    pub const ALL: [ContainerTab; 5] =
        [ContainerTab::Terminal, ContainerTab::Logs, ContainerTab::Stats, ContainerTab::Inspect, ContainerTab::Changes];

    pub fn slug(self) -> &'static str {
        match self {
            ContainerTab::Terminal => "terminal",
            ContainerTab::Logs => "logs",
            ContainerTab::Stats => "stats",
            ContainerTab::Inspect => "inspect",
            ContainerTab::Changes => "changes",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ContainerTab::Terminal => "Terminal",
            ContainerTab::Logs => "Logs",
            ContainerTab::Stats => "Stats",
            ContainerTab::Inspect => "Inspect",
            ContainerTab::Changes => "Changes",
        }
    }
}

impl Route {
    pub fn parse(hash: &str) -> Route {
        let hash = hash.trim_start_matches('#').trim_start_matches('/');
        let (path, query) = hash.split_once('?').unwrap_or((hash, ""));
        let parts: Vec<String> = path.split('/').filter(|part| !part.is_empty()).map(decode).collect();
        let param = |name: &str| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| *key == name)
                .map(|(_, v)| decode(v))
        };
        match parts.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            ["images"] => Route::Images,
            ["images", image] => Route::Layers { image: image.to_string() },
            ["containers"] => Route::Containers,
            ["containers", id] => Route::Container { id: id.to_string(), tab: ContainerTab::Terminal },
            ["containers", id, tab] => Route::Container {
                id: id.to_string(),
                tab: ContainerTab::ALL.into_iter().find(|t| t.slug() == *tab).unwrap_or(ContainerTab::Terminal),
            },
            ["terminal"] => match param("session") {
                Some(session) => Route::SharedTerminal {
                    session,
                    readonly: param("readonly").is_some_and(|value| value == "true" || value == "1"),
                },
                None => Route::Containers,
            },
            ["networks"] => Route::Networks,
            ["volumes"] => Route::Volumes,
            ["compose"] => Route::Compose,
            ["security"] => Route::Security,
            ["routes"] => Route::Routes,
            ["routes", name] => Route::RoutedPort { name: name.to_string() },
            _ => Route::Playground,
        }
    }

    pub fn href(&self) -> String {
        match self {
            Route::Playground => "#/".to_string(),
            Route::Images => "#/images".to_string(),
            Route::Layers { image } => format!("#/images/{}", encode(image)),
            Route::Containers => "#/containers".to_string(),
            Route::Container { id, tab } => format!("#/containers/{}/{}", encode(id), tab.slug()),
            Route::SharedTerminal { session, readonly } => {
                format!("#/terminal?session={}&readonly={readonly}", encode(session))
            }
            Route::Networks => "#/networks".to_string(),
            Route::Volumes => "#/volumes".to_string(),
            Route::Compose => "#/compose".to_string(),
            Route::Security => "#/security".to_string(),
            Route::Routes => "#/routes".to_string(),
            Route::RoutedPort { name } => format!("#/routes/{}", encode(name)),
        }
    }
}

fn encode(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
}

fn decode(text: &str) -> String {
    js_sys::decode_uri_component(text).map(String::from).unwrap_or_else(|_| text.to_string())
}

pub fn current() -> Route {
    Route::parse(&web_sys::window().and_then(|window| window.location().hash().ok()).unwrap_or_default())
}

pub fn go(route: &Route) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_hash(&route.href());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn routes_round_trip() {
        for route in [
            Route::Playground,
            Route::Layers { image: "playground/site:latest".into() },
            Route::Container { id: "abc".into(), tab: ContainerTab::Logs },
            Route::SharedTerminal { session: "s1".into(), readonly: true },
            Route::Volumes,
            Route::Compose,
            Route::Security,
            Route::Routes,
            Route::RoutedPort { name: "web.v2".into() },
        ] {
            assert_eq!(Route::parse(&route.href()), route);
        }
        assert_eq!(Route::parse("#/nowhere"), Route::Playground);
    }
}
