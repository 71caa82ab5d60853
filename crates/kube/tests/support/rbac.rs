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
        ["namespaces"] => ("namespaces", false),
        ["namespaces", _] => ("namespaces", true),
        ["namespaces", _, resource] => (*resource, false),
        ["namespaces", _, resource, _, ..] => (*resource, true),
        [resource] => (*resource, false),
        [resource, _, ..] => (*resource, true),
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
    Some((group, resource.to_owned(), verb.to_owned()))
}
