//! A weighted route's rules: `header:NAME=VALUE`, `path:/PREFIX` or `cookie:NAME=VALUE` picks a backend.

use hyper::header::{HeaderMap, HeaderName, COOKIE};

use super::RouteError;

/// What a request is to the choice: its path and headers (absent in TCP mode).
pub(crate) struct RequestFacts<'a> {
    pub path: &'a str,
    pub headers: &'a HeaderMap,
}

impl RequestFacts<'_> {
    /// The value of cookie `name`, from any `Cookie` header.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|line| line.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.trim_matches('"'))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Matcher {
    Header { name: HeaderName, value: String },
    PathPrefix(String),
    Cookie { name: String, value: String },
}

impl Matcher {
    pub fn parse(when: &str) -> Result<Matcher, RouteError> {
        let invalid = |why: &str| {
            RouteError::Invalid(format!(
                "rule {when:?} cannot parse: {why} (rules are header:NAME=VALUE, path:/PREFIX or cookie:NAME=VALUE)"
            ))
        };
        let (kind, rest) = when.split_once(':').ok_or_else(|| invalid("no kind before ':'"))?;
        match kind.trim() {
            "header" => {
                let (name, value) = rest.split_once('=').ok_or_else(|| invalid("no '=' between name and value"))?;
                let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| invalid("not a header name"))?;
                Ok(Matcher::Header { name, value: value.trim().to_string() })
            }
            "path" => {
                let prefix = rest.trim();
                if !prefix.starts_with('/') {
                    return Err(invalid("a path prefix starts with '/'"));
                }
                Ok(Matcher::PathPrefix(prefix.to_string()))
            }
            "cookie" => {
                let (name, value) = rest.split_once('=').ok_or_else(|| invalid("no '=' between name and value"))?;
                let name = name.trim();
                if name.is_empty() || !name.bytes().all(is_cookie_name_byte) {
                    return Err(invalid("not a cookie name"));
                }
                Ok(Matcher::Cookie { name: name.to_string(), value: value.trim().to_string() })
            }
            other => Err(invalid(&format!("unknown kind {other:?}"))),
        }
    }

    pub fn matches(&self, facts: &RequestFacts<'_>) -> bool {
        match self {
            Matcher::Header { name, value } => {
                facts.headers.get_all(name).iter().any(|v| v.to_str().is_ok_and(|v| v.trim() == value))
            }
            Matcher::PathPrefix(prefix) => facts.path.starts_with(prefix.as_str()),
            Matcher::Cookie { name, value } => facts.cookie(name) == Some(value.as_str()),
        }
    }
}

/// RFC 6265's token characters.
pub(crate) fn is_cookie_name_byte(byte: u8) -> bool {
    byte.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        map
    }

    #[test]
    fn each_kind_parses_and_matches_only_its_requests() {
        let beta = Matcher::parse("header:X-Version=beta").unwrap();
        let map = headers(&[("x-version", "beta")]);
        assert!(beta.matches(&RequestFacts { path: "/", headers: &map }));
        let other = headers(&[("x-version", "stable")]);
        assert!(!beta.matches(&RequestFacts { path: "/", headers: &other }));

        let path = Matcher::parse("path:/beta").unwrap();
        let none = HeaderMap::new();
        assert!(path.matches(&RequestFacts { path: "/beta/page", headers: &none }));
        assert!(!path.matches(&RequestFacts { path: "/", headers: &none }));

        let cookie = Matcher::parse("cookie:group=b").unwrap();
        let jar = headers(&[("cookie", "a=1; group=b")]);
        assert!(cookie.matches(&RequestFacts { path: "/", headers: &jar }));
        let other_jar = headers(&[("cookie", "group=a")]);
        assert!(!cookie.matches(&RequestFacts { path: "/", headers: &other_jar }));
    }

    #[test]
    fn rules_that_cannot_parse_say_why() {
        for bad in ["header", "header:X-Version", "path:beta", "query:a=b", "cookie:=x", "header:bad name=1"] {
            let error = Matcher::parse(bad).unwrap_err().to_string();
            assert!(error.contains("cannot parse"), "{bad}: {error}");
        }
    }
}
