//! A request as the RBAC rule it needs, for the RBAC-equals-use test.

use http::Method;

/// The RBAC rule a request needs: (API group, resource, verb), from its method and path.
pub fn rbac_of(method: &Method, path: &str, watching: bool) -> Option<(String, String, String)> {
    let (group, rest) = if let Some(rest) = path.strip_prefix("/api/v1/") {
        (String::new(), rest)
    } else {
        let rest = path.strip_prefix("/apis/")?;
        let mut parts = rest.splitn(3, '/');
        let group = parts.next()?.to_owned();
        let _version = parts.next()?;
        (group, parts.next().unwrap_or(""))
    };
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let (resource, named) = match parts.as_slice() {
        ["namespaces"] => ("namespaces".to_owned(), false),
        ["namespaces", _] => ("namespaces".to_owned(), true),
        ["namespaces", _, resource] => ((*resource).to_owned(), false),
        // A subresource is authorized as `<resource>/<subresource>` (`links/status`).
        ["namespaces", _, resource, _, sub] => (format!("{resource}/{sub}"), true),
        ["namespaces", _, resource, _, ..] => ((*resource).to_owned(), true),
        [resource] => ((*resource).to_owned(), false),
        [resource, _, ..] => ((*resource).to_owned(), true),
        [] => return None,
    };
    let verb = match (method.as_str(), named) {
        ("GET", true) => "get",
        ("GET", false) if watching => "watch",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => return None,
    };
    Some((group, resource, verb.to_owned()))
}
