//! A mode compiled against the route's backends: a weight per backend (blue/green is 100 on the live one, a ramp
//! is 100 - w and w), the rules with the backend each picks, stickiness, and the shadow's backend. Checked here,
//! so every change (create, switch, weights) is refused with the same words before anything moves.

use std::collections::BTreeMap;

use berth_shared::api::routes::{RouteMode, RouteProtocol, Sticky};

use super::rule::{is_cookie_name_byte, Matcher};
use super::RouteError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    /// Per backend, in the route's order; adding up to 100 (or 0 in shadow mode, where the primary takes all).
    pub weights: Vec<u32>,
    pub rules: Vec<(Matcher, usize)>,
    pub sticky: Option<Sticky>,
    /// Shadow mode: (primary, shadow).
    pub shadow: Option<(usize, usize)>,
}

pub(crate) fn index_of(names: &[String], name: &str) -> Result<usize, RouteError> {
    names.iter().position(|n| n == name).ok_or_else(|| {
        RouteError::Invalid(format!("no backend named {name:?} in this route (it has {})", names.join(", ")))
    })
}

/// The checks every route's backends pass once: named, and each name once.
pub(crate) fn check_names(names: &[String]) -> Result<(), RouteError> {
    if names.is_empty() {
        return Err(RouteError::Invalid("a route needs at least one backend".into()));
    }
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(RouteError::Invalid(format!(
                "backend name {name:?}: use letters, digits, '-', '_' and '.' (it is the sticky cookie's value)"
            )));
        }
        if names[..i].contains(name) {
            return Err(RouteError::Invalid(format!("backend name {name:?} is given twice")));
        }
    }
    Ok(())
}

/// The weights of a weighted mode, checked: every name known, adding up to exactly 100.
pub(crate) fn weights_of(names: &[String], weights: &BTreeMap<String, u32>) -> Result<Vec<u32>, RouteError> {
    let mut out = vec![0; names.len()];
    for (name, weight) in weights {
        out[index_of(names, name)?] = *weight;
    }
    let total: u64 = weights.values().map(|w| u64::from(*w)).sum();
    if total != 100 {
        let listed: Vec<String> = weights.iter().map(|(n, w)| format!("{n}={w}")).collect();
        return Err(RouteError::Invalid(format!(
            "weights must add up to 100; {} add up to {total}",
            listed.join(", ")
        )));
    }
    Ok(out)
}

/// `ramp_weight` is the ramp's current weight of `to` (ignored by the other modes).
pub(crate) fn compile(
    mode: &RouteMode,
    names: &[String],
    protocol: RouteProtocol,
    ramp_weight: u32,
) -> Result<Table, RouteError> {
    let mut table = Table { weights: vec![0; names.len()], rules: Vec::new(), sticky: None, shadow: None };
    let tcp = protocol == RouteProtocol::Tcp;
    match mode {
        RouteMode::BlueGreen { live, .. } => table.weights[index_of(names, live)?] = 100,
        RouteMode::Weighted { weights, sticky, rules } => {
            table.weights = weights_of(names, weights)?;
            if tcp && (!rules.is_empty() || sticky.is_some()) {
                return Err(RouteError::Invalid(
                    "rules and stickiness read HTTP requests; a tcp route has weights only".into(),
                ));
            }
            for rule in rules {
                table.rules.push((Matcher::parse(&rule.when)?, index_of(names, &rule.backend)?));
            }
            if let Some(sticky) = sticky {
                let name = match sticky {
                    Sticky::Cookie(name) | Sticky::Header(name) => name,
                };
                let valid = match sticky {
                    Sticky::Cookie(_) => !name.is_empty() && name.bytes().all(is_cookie_name_byte),
                    Sticky::Header(_) => hyper::header::HeaderName::from_bytes(name.as_bytes()).is_ok(),
                };
                if !valid {
                    return Err(RouteError::Invalid(format!("{name:?} is not a valid sticky cookie or header name")));
                }
            }
            table.sticky = sticky.clone();
        }
        RouteMode::Ramped { from, to, steps, interval_ms, guard } => {
            if tcp {
                return Err(RouteError::Invalid("a ramp watches HTTP error answers; use an http route".into()));
            }
            let (from, to) = (index_of(names, from)?, index_of(names, to)?);
            if from == to {
                return Err(RouteError::Invalid("a ramp goes from one backend to another".into()));
            }
            if *steps == 0 || *steps > 100 || *interval_ms == 0 {
                return Err(RouteError::Invalid("a ramp has 1 to 100 steps and an interval above 0 ms".into()));
            }
            if !(guard.error_rate > 0.0 && guard.error_rate <= 1.0) || guard.window_ms == 0 {
                return Err(RouteError::Invalid(
                    "a ramp's guard has an error rate above 0 and at most 1 (0.1 is 10 %) and a window above 0 ms"
                        .into(),
                ));
            }
            let weight = ramp_weight.min(100);
            table.weights[from] = 100 - weight;
            table.weights[to] = weight;
        }
        RouteMode::Shadow { primary, shadow } => {
            if tcp {
                return Err(RouteError::Invalid("shadow mode compares HTTP answers; use an http route".into()));
            }
            let (primary, shadow) = (index_of(names, primary)?, index_of(names, shadow)?);
            if primary == shadow {
                return Err(RouteError::Invalid("the shadow is another backend than the primary".into()));
            }
            table.weights[primary] = 100;
            table.shadow = Some((primary, shadow));
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_shared::api::routes::RouteRule;

    fn names() -> Vec<String> {
        vec!["blue".into(), "green".into()]
    }

    #[test]
    fn weights_must_add_up_to_100() {
        let weights = BTreeMap::from([("blue".to_string(), 80), ("green".to_string(), 30)]);
        let mode = RouteMode::Weighted { weights, sticky: None, rules: vec![] };
        let error = compile(&mode, &names(), RouteProtocol::Http, 0).unwrap_err().to_string();
        assert_eq!(error, "weights must add up to 100; blue=80, green=30 add up to 110");
        let weights = BTreeMap::from([("blue".to_string(), 80), ("green".to_string(), 20)]);
        let mode = RouteMode::Weighted { weights, sticky: None, rules: vec![] };
        assert_eq!(compile(&mode, &names(), RouteProtocol::Http, 0).unwrap().weights, vec![80, 20]);
    }

    #[test]
    fn unknown_backends_and_tcp_rules_are_refused() {
        let mode = RouteMode::BlueGreen { live: "red".into(), drain_ms: 0 };
        assert!(compile(&mode, &names(), RouteProtocol::Http, 0).unwrap_err().to_string().contains("\"red\""));
        let weights = BTreeMap::from([("blue".to_string(), 100)]);
        let rules = vec![RouteRule { when: "path:/b".into(), backend: "green".into() }];
        let mode = RouteMode::Weighted { weights, sticky: None, rules };
        assert!(compile(&mode, &names(), RouteProtocol::Tcp, 0).is_err());
        let table = compile(&mode, &names(), RouteProtocol::Http, 0).unwrap();
        assert_eq!(table.rules, vec![(Matcher::PathPrefix("/b".into()), 1)]);
    }

    #[test]
    fn a_ramp_splits_its_weight_between_from_and_to() {
        let mode = RouteMode::Ramped {
            from: "blue".into(),
            to: "green".into(),
            steps: 4,
            interval_ms: 10,
            guard: Default::default(),
        };
        assert_eq!(compile(&mode, &names(), RouteProtocol::Http, 25).unwrap().weights, vec![75, 25]);
        assert!(compile(&mode, &names(), RouteProtocol::Tcp, 25).is_err());
    }

    #[test]
    fn backend_names_are_unique_and_cookie_safe() {
        assert!(check_names(&names()).is_ok());
        assert!(check_names(&["a".into(), "a".into()]).is_err());
        assert!(check_names(&["a;b".into()]).is_err());
        assert!(check_names(&[]).is_err());
    }
}
