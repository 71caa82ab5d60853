//! Kubernetes RBAC for the loopback API server, as the real one authorizes: a request's
//! attributes as `k8s.io/apiserver`'s `RequestInfoFactory` derives them from the URL (verb, API
//! group, `resource[/subresource]`, namespace, name), and an evaluator of applied Role,
//! ClusterRole, RoleBinding and ClusterRoleBinding documents for one ServiceAccount, with the
//! RBAC authorizer's rules (`plugin/pkg/auth/authorizer/rbac`, and the RBAC docs,
//! <https://kubernetes.io/docs/reference/access-authn-authz/rbac/>):
//! - the rules of every binding that applies are unioned (RBAC is purely additive: no deny);
//! - a ClusterRoleBinding grants its ClusterRole's rules in every namespace and at the cluster
//!   scope; a RoleBinding grants its Role's (in the binding's namespace) or a ClusterRole's rules
//!   only for requests in the binding's namespace;
//! - `*` in apiGroups, resources or verbs matches anything; a subresource matches only
//!   `resource/sub` (or `*/sub`), never the bare resource;
//! - `resourceNames` restrict a rule to requests that carry one of those names: never a create
//!   or a deletecollection, nor a list or watch unless its `metadata.name` field selector names
//!   one (the apiserver turns that selector into the request's name);
//! - a ServiceAccount subject matches `system:serviceaccount:<ns>:<name>` (its namespace
//!   defaulting to the RoleBinding's), and the account's groups `system:serviceaccounts`,
//!   `system:serviceaccounts:<ns>` and `system:authenticated` match Group subjects.
//!
//! Non-resource URLs are not modelled (the server lets `/version` and the access reviews
//! through, as the bootstrap roles `system:public-info-viewer` and `system:basic-user` do).

use std::collections::BTreeMap;

use http::Method;
use serde_json::Value;

/// A request as the RBAC authorizer sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attributes {
    /// get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: String,
    /// API group (`""` for core).
    pub group: String,
    /// `resource` or `resource/subresource` (`links/status`).
    pub resource: String,
    /// The namespace of a namespaced request (for a Namespace object, its own name).
    pub namespace: Option<String>,
    /// The object's name; none for a create, or a list/watch without a `metadata.name` selector.
    pub name: Option<String>,
}

impl Attributes {
    /// Attributes from plain parts (for tests and access reviews).
    pub fn new(
        verb: &str,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Self {
        Self {
            verb: verb.to_owned(),
            group: group.to_owned(),
            resource: resource.to_owned(),
            namespace: namespace.filter(|s| !s.is_empty()).map(str::to_owned),
            name: name.filter(|s| !s.is_empty()).map(str::to_owned),
        }
    }

    /// The `(group, resource, verb)` triple, as a rule without namespace or name.
    pub fn triple(&self) -> (String, String, String) {
        (self.group.clone(), self.resource.clone(), self.verb.clone())
    }

    /// The same request authorized as another verb (an apply that creates is a `create` too).
    pub fn as_verb(&self, verb: &str) -> Self {
        Self {
            verb: verb.to_owned(),
            ..self.clone()
        }
    }
}

impl std::fmt::Display for Attributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = if self.group.is_empty() {
            String::new()
        } else {
            format!(".{}", self.group)
        };
        write!(f, "{} {}{group}", self.verb, self.resource)?;
        if let Some(name) = &self.name {
            write!(f, " {name}")?;
        }
        match &self.namespace {
            Some(ns) => write!(f, " in {ns}"),
            None => write!(f, " cluster-wide"),
        }
    }
}

/// `RequiresExactMatch("metadata.name")` of a field selector (`a=b,c==d`): the name it pins.
fn selected_name(selector: &str) -> Option<String> {
    selector.split(',').find_map(|term| {
        let (field, value) = term
            .split_once("==")
            .or_else(|| term.split_once('='))
            .filter(|(f, _)| !f.ends_with('!'))?;
        (field.trim() == "metadata.name" && !value.is_empty()).then(|| value.trim().to_owned())
    })
}

/// The attributes of a request, as `RequestInfoFactory.NewRequestInfo` derives them from the
/// method, path and query; `None` for a non-resource URL (`/version`).
pub fn attributes_of(
    method: &Method,
    path: &str,
    query: &BTreeMap<String, String>,
) -> Option<Attributes> {
    let (group, rest) = if let Some(rest) = path.strip_prefix("/api/v1") {
        (String::new(), rest)
    } else {
        let rest = path.strip_prefix("/apis/")?;
        let mut parts = rest.splitn(3, '/');
        let group = parts.next()?.to_owned();
        let _version = parts.next()?;
        (group, parts.next().unwrap_or(""))
    };
    let mut parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return None;
    }
    let mut namespace = None;
    // `/namespaces/{ns}/{resource}/…`: the namespace, then the path relative to the resource —
    // unless what follows is a Namespace's own subresource (`status`, `finalize`).
    if parts[0] == "namespaces" && parts.len() > 1 {
        namespace = Some(parts[1].to_owned());
        if parts.len() > 2 && !["status", "finalize"].contains(&parts[2]) {
            parts.drain(..2);
        }
    }
    let resource = match parts.get(2) {
        Some(sub) => format!("{}/{sub}", parts[0]),
        None => parts[0].to_owned(),
    };
    let mut name = parts.get(1).map(|s| (*s).to_owned());
    let mut verb = match *method {
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => return None,
    };
    if name.is_none() && verb == "get" {
        verb = match query.get("watch").map(String::as_str) {
            Some("true" | "1") => "watch",
            _ => "list",
        };
        // A list or watch pinned to one name by its field selector is authorized for that name.
        name = query.get("fieldSelector").and_then(|s| selected_name(s));
    }
    if name.is_none() && verb == "delete" {
        verb = "deletecollection";
    }
    Some(Attributes {
        verb: verb.to_owned(),
        group,
        resource,
        namespace,
        name,
    })
}

/// Requests every authenticated account may make, by the bootstrap ClusterRole
/// `system:basic-user`: its own access reviews.
pub fn bootstrap_allows(a: &Attributes) -> bool {
    a.group == "authorization.k8s.io"
        && a.verb == "create"
        && ["selfsubjectaccessreviews", "selfsubjectrulesreviews"].contains(&a.resource.as_str())
}

/// The identity a server enforces RBAC for: a ServiceAccount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub namespace: String,
    pub name: String,
}

impl ServiceAccount {
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// Its user name, `system:serviceaccount:<ns>:<name>`.
    pub fn user(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.namespace, self.name)
    }

    /// The groups the authenticator puts it in.
    fn groups(&self) -> [String; 3] {
        [
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{}", self.namespace),
            "system:authenticated".to_owned(),
        ]
    }

    /// Whether a binding's subject (in a RoleBinding of `binding_namespace`) is this account.
    fn is(&self, subject: &Value, binding_namespace: Option<&str>) -> bool {
        let name = subject["name"].as_str().unwrap_or_default();
        match subject["kind"].as_str() {
            Some("ServiceAccount") => {
                let ns = subject["namespace"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .or(binding_namespace);
                ns == Some(self.namespace.as_str()) && name == self.name
            }
            Some("User") => name == self.user(),
            Some("Group") => self.groups().iter().any(|g| g == name),
            _ => false,
        }
    }
}

/// One rule of a role, as written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    pub groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
    pub names: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

impl Rule {
    fn of(rule: &Value) -> Self {
        Self {
            groups: strings(&rule["apiGroups"]),
            resources: strings(&rule["resources"]),
            verbs: strings(&rule["verbs"]),
            names: strings(&rule["resourceNames"]),
        }
    }

    /// `RuleAllows`: verb, group, resource (with `*/sub`) and name all match.
    pub fn allows(&self, a: &Attributes) -> bool {
        let any = |list: &[String], wanted: &str| list.iter().any(|x| x == "*" || x == wanted);
        let subresource = a.resource.split_once('/').map(|(_, sub)| sub);
        let resource = self.resources.iter().any(|r| {
            r == "*" || *r == a.resource || subresource.is_some_and(|sub| *r == format!("*/{sub}"))
        });
        let name = self.names.is_empty()
            || a.name
                .as_ref()
                .is_some_and(|n| self.names.iter().any(|x| x == n));
        any(&self.verbs, &a.verb) && any(&self.groups, &a.group) && resource && name
    }

    /// The rule one verb, group, resource and name at a time (for "every grant is used").
    pub fn atoms(&self) -> Vec<Rule> {
        let names: Vec<Vec<String>> = if self.names.is_empty() {
            vec![Vec::new()]
        } else {
            self.names.iter().map(|n| vec![n.clone()]).collect()
        };
        let mut out = Vec::new();
        for g in &self.groups {
            for r in &self.resources {
                for v in &self.verbs {
                    for n in &names {
                        out.push(Rule {
                            groups: vec![g.clone()],
                            resources: vec![r.clone()],
                            verbs: vec![v.clone()],
                            names: n.clone(),
                        });
                    }
                }
            }
        }
        out
    }
}

/// A rule granted to the subject through one binding: where it applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    /// `RoleBinding ns/name` or `ClusterRoleBinding name`, and the role it refers to.
    pub via: String,
    /// The RoleBinding's namespace; `None` for a ClusterRoleBinding (everywhere).
    pub namespace: Option<String>,
    pub rule: Rule,
}

impl Grant {
    /// Whether this grant allows the request.
    pub fn allows(&self, a: &Attributes) -> bool {
        (self.namespace.is_none() || self.namespace == a.namespace) && self.rule.allows(a)
    }
}

impl std::fmt::Display for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Rule {
            groups,
            resources,
            verbs,
            names,
        } = &self.rule;
        write!(f, "{verbs:?} {resources:?} in groups {groups:?}")?;
        if !names.is_empty() {
            write!(f, " named {names:?}")?;
        }
        match &self.namespace {
            Some(ns) => write!(f, " in {ns}"),
            None => write!(f, " everywhere"),
        }?;
        write!(f, " ({})", self.via)
    }
}

/// The RBAC objects applied to a cluster.
#[derive(Debug, Clone, Default)]
pub struct Rbac {
    /// Roles by (namespace, name); ClusterRoles with namespace `None`.
    roles: BTreeMap<(Option<String>, String), Vec<Rule>>,
    /// (kind, namespace, document) of every binding.
    bindings: Vec<(String, Option<String>, Value)>,
}

impl Rbac {
    /// The Roles, ClusterRoles and bindings among `docs` (other kinds are ignored).
    pub fn from_documents(docs: &[Value]) -> Self {
        let mut rbac = Self::default();
        rbac.add(docs);
        rbac
    }

    /// Applies more documents (a Role or binding of the same name replaces the old one).
    pub fn add(&mut self, docs: &[Value]) {
        for doc in docs {
            let name = doc["metadata"]["name"].as_str().unwrap_or_default();
            let namespace = doc["metadata"]["namespace"].as_str().map(str::to_owned);
            match doc["kind"].as_str() {
                Some("Role") => {
                    let rules = doc["rules"].as_array().into_iter().flatten();
                    self.roles.insert(
                        (
                            Some(namespace.unwrap_or_else(|| "default".into())),
                            name.into(),
                        ),
                        rules.map(Rule::of).collect(),
                    );
                }
                Some("ClusterRole") => {
                    let rules = doc["rules"].as_array().into_iter().flatten();
                    self.roles
                        .insert((None, name.into()), rules.map(Rule::of).collect());
                }
                Some(kind @ "RoleBinding") => {
                    let ns = namespace.or(Some("default".into()));
                    self.bindings.retain(|(k, n, d)| {
                        !(k == kind && *n == ns && d["metadata"]["name"] == name)
                    });
                    self.bindings.push((kind.into(), ns, doc.clone()));
                }
                Some(kind @ "ClusterRoleBinding") => {
                    self.bindings
                        .retain(|(k, _, d)| !(k == kind && d["metadata"]["name"] == name));
                    self.bindings.push((kind.into(), None, doc.clone()));
                }
                _ => {}
            }
        }
    }

    /// Every rule granted to `subject`, with where it applies.
    pub fn grants(&self, subject: &ServiceAccount) -> Vec<Grant> {
        let mut out = Vec::new();
        for (kind, namespace, binding) in &self.bindings {
            let applies = binding["subjects"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| subject.is(s, namespace.as_deref()));
            if !applies {
                continue;
            }
            let role_ref = &binding["roleRef"];
            let role_name = role_ref["name"].as_str().unwrap_or_default().to_owned();
            // A ClusterRoleBinding may only refer to a ClusterRole; a RoleBinding to a Role in
            // its own namespace or to a ClusterRole.
            let key = match (kind.as_str(), role_ref["kind"].as_str()) {
                (_, Some("ClusterRole")) => (None, role_name.clone()),
                ("RoleBinding", Some("Role")) => (namespace.clone(), role_name.clone()),
                _ => continue,
            };
            let via = format!(
                "{kind} {}{} -> {} {role_name}",
                namespace
                    .as_ref()
                    .map(|n| format!("{n}/"))
                    .unwrap_or_default(),
                binding["metadata"]["name"].as_str().unwrap_or_default(),
                role_ref["kind"].as_str().unwrap_or_default(),
            );
            for rule in self.roles.get(&key).into_iter().flatten() {
                out.push(Grant {
                    via: via.clone(),
                    namespace: namespace.clone(),
                    rule: rule.clone(),
                });
            }
        }
        out
    }

    /// Whether `subject` may make the request: some rule of some binding that applies allows it.
    pub fn allowed(&self, subject: &ServiceAccount, a: &Attributes) -> bool {
        self.grants(subject).iter().any(|g| g.allows(a))
    }

    /// The requests among `used` that `subject` may not make (what would be 403s).
    pub fn refused<'a>(
        &self,
        subject: &ServiceAccount,
        used: impl IntoIterator<Item = &'a Attributes>,
    ) -> Vec<Attributes> {
        used.into_iter()
            .filter(|a| !self.allowed(subject, a))
            .cloned()
            .collect()
    }

    /// Least privilege: each grant to `subject`, one verb, group, resource and name at a time
    /// (where it applies), that no request in `used` needed.
    pub fn unused<'a>(
        &self,
        subject: &ServiceAccount,
        used: impl IntoIterator<Item = &'a Attributes> + Clone,
    ) -> Vec<Grant> {
        let mut out = Vec::new();
        for grant in self.grants(subject) {
            for rule in grant.rule.atoms() {
                let atom = Grant {
                    rule,
                    ..grant.clone()
                };
                if !used.clone().into_iter().any(|a| atom.allows(a)) && !out.contains(&atom) {
                    out.push(atom);
                }
            }
        }
        out
    }

    /// [`Rbac::allowed`] from plain parts.
    pub fn allows(
        &self,
        subject: &ServiceAccount,
        verb: &str,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> bool {
        self.allowed(
            subject,
            &Attributes::new(verb, group, resource, namespace, name),
        )
    }
}

/// The message of the API server's 403 (`responsewriters.forbiddenMessage` wrapped in
/// `errors.NewForbidden`): `services "x" is forbidden: User "…" cannot create resource
/// "services" in API group "" in the namespace "ns"`.
pub fn forbidden_message(subject: &ServiceAccount, a: &Attributes) -> String {
    let plural = a.resource.split('/').next().unwrap_or_default();
    let qualified = if a.group.is_empty() {
        plural.to_owned()
    } else {
        format!("{plural}.{}", a.group)
    };
    let object = match &a.name {
        Some(name) => format!("{qualified} {name:?}"),
        None => qualified,
    };
    let scope = match &a.namespace {
        Some(ns) => format!("in the namespace {ns:?}"),
        None => "at the cluster scope".to_owned(),
    };
    format!(
        "{object} is forbidden: User {:?} cannot {} resource {:?} in API group {:?} {scope}",
        subject.user(),
        a.verb,
        a.resource,
        a.group
    )
}
