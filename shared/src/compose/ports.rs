//! Port short syntax, `[[host_ip:]published:]target[/protocol]`, where published and target may be ranges
//! (`9090-9091:8080-8081`) and an IPv6 host address is bracketed (`[::1]:80:80`). Parsed the way docker's
//! `nat.ParsePortSpec` does: a target range becomes one [`Port`] per container port, paired with the host range.

use super::model::Port;

/// The ports `spec` publishes, or why it cannot be parsed.
pub(crate) fn parse_short(spec: &str) -> Result<Vec<Port>, String> {
    let (address, protocol) = match spec.rsplit_once('/') {
        Some((address, protocol)) => (address, protocol.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid protocol {protocol:?}"));
    }
    let (host_ip, host, target) = split_address(address)?;
    let (target_start, target_end) = parse_range(target, false)?;
    let host_range = if host.is_empty() { None } else { Some(parse_range(host, true)?) };
    let target_count = target_end - target_start;
    let host_ip = (!host_ip.is_empty()).then(|| host_ip.to_string());
    let port = |target: u16, published: Option<String>| Port {
        target,
        published,
        host_ip: host_ip.clone(),
        protocol: protocol.clone(),
        mode: None,
    };
    match host_range {
        None => Ok((target_start..=target_end).map(|target| port(target, None)).collect()),
        Some((host_start, host_end)) if host_end - host_start == target_count => Ok((0..=target_count)
            .map(|step| port(target_start + step, Some((host_start + step).to_string())))
            .collect()),
        // A host range for one container port: the engine picks a free host port within it.
        Some((host_start, host_end)) if target_count == 0 => {
            Ok(vec![port(target_start, Some(format!("{host_start}-{host_end}")))])
        }
        Some(_) => Err("invalid ranges specified for container and host ports".to_string()),
    }
}

/// Splits into host IP, published part and target part.
fn split_address(address: &str) -> Result<(&str, &str, &str), String> {
    if let Some(bracketed) = address.strip_prefix('[') {
        let (ip, rest) = bracketed.split_once(']').ok_or("unclosed '[' in the host address")?;
        let rest = rest.strip_prefix(':').ok_or("expected ':' after the host address")?;
        let (host, target) = rest.split_once(':').ok_or("expected published:target after the host address")?;
        return Ok((ip, host, target));
    }
    let parts: Vec<&str> = address.split(':').collect();
    match parts.as_slice() {
        [target] => Ok(("", "", target)),
        [host, target] => Ok(("", host, target)),
        [ip, host, target] => Ok((ip, host, target)),
        _ => Err("too many colons (bracket an IPv6 address: [::1]:80:80)".to_string()),
    }
}

/// `80` or `8000-8010`; a published port may be 0 (any), a target may not.
fn parse_range(text: &str, published: bool) -> Result<(u16, u16), String> {
    let number = |part: &str| -> Result<u16, String> {
        let value: u16 = part.trim().parse().map_err(|_| format!("invalid port number {part:?}"))?;
        if value == 0 && !published {
            return Err("container port 0 is not allowed".to_string());
        }
        Ok(value)
    };
    let (start, end) = match text.split_once('-') {
        Some((start, end)) => (number(start)?, number(end)?),
        None => {
            let value = number(text)?;
            (value, value)
        }
    };
    if end < start {
        return Err(format!("invalid port range {text:?}"));
    }
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(ports: &[Port]) -> Vec<(u16, Option<&str>, Option<&str>, &str)> {
        ports
            .iter()
            .map(|port| (port.target, port.published.as_deref(), port.host_ip.as_deref(), port.protocol.as_str()))
            .collect()
    }

    #[test]
    fn short_forms() {
        assert_eq!(published(&parse_short("80").expect("valid")), [(80, None, None, "tcp")]);
        assert_eq!(published(&parse_short("8080:80").expect("valid")), [(80, Some("8080"), None, "tcp")]);
        assert_eq!(
            published(&parse_short("127.0.0.1:8080:80/udp").expect("valid")),
            [(80, Some("8080"), Some("127.0.0.1"), "udp")]
        );
        assert_eq!(published(&parse_short("127.0.0.1::80").expect("valid")), [(80, None, Some("127.0.0.1"), "tcp")]);
        assert_eq!(
            published(&parse_short("[::1]:6001:6001").expect("valid")),
            [(6001, Some("6001"), Some("::1"), "tcp")]
        );
    }

    #[test]
    fn ranges() {
        assert_eq!(
            published(&parse_short("3000-3001").expect("valid")),
            [(3000, None, None, "tcp"), (3001, None, None, "tcp")]
        );
        assert_eq!(
            published(&parse_short("9090-9091:8080-8081").expect("valid")),
            [(8080, Some("9090"), None, "tcp"), (8081, Some("9091"), None, "tcp")]
        );
        assert_eq!(published(&parse_short("8000-8010:80").expect("valid")), [(80, Some("8000-8010"), None, "tcp")]);
    }

    #[test]
    fn errors() {
        for bad in ["", "abc", "80/xyz", "70000", "8080:0", "90-80", "1-2:3-5", "1:2:3:4", "[::1:80:80", "8000:80-81"] {
            assert!(parse_short(bad).is_err(), "{bad:?}");
        }
    }
}
