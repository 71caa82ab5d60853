//! The loopback server's RBAC evaluator (`support::rbac`) against the semantics of the
//! Kubernetes RBAC docs (<https://kubernetes.io/docs/reference/access-authn-authz/rbac/>) and
//! the apiserver's request attributes (`k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`).

use std::collections::BTreeMap;

use http::Method;
use serde_json::{Value, json};

use crate::support::{
    ApiServer, Attributes, Rbac, ServiceAccount, attributes_of, client, forbidden_message, spawn,
};
use svcmirror_fake::FakeCluster;

fn sa() -> ServiceAccount {
    ServiceAccount::new("svcmirror", "svcmirror-west")
}

fn role(kind: &str, namespace: Option<&str>, name: &str, rules: Value) -> Value {
    let mut doc = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
                         "metadata": {"name": name}, "rules": rules});
    if let Some(ns) = namespace {
        doc["metadata"]["namespace"] = json!(ns);
    }
    doc
}

fn binding(
    kind: &str,
    namespace: Option<&str>,
    role_kind: &str,
    role: &str,
    subjects: Value,
) -> Value {
    let mut doc = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
                         "metadata": {"name": format!("{role}-binding")},
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                     "kind": role_kind, "name": role},
                         "subjects": subjects});
    if let Some(ns) = namespace {
        doc["metadata"]["namespace"] = json!(ns);
    }
    doc
}

fn the_sa() -> Value {
    json!([{"kind": "ServiceAccount", "name": "svcmirror-west", "namespace": "svcmirror"}])
}

fn services_rule(verbs: &[&str]) -> Value {
    json!([{"apiGroups": [""], "resources": ["services"], "verbs": verbs}])
}

/// "A Role always sets permissions within a particular namespace" and "a RoleBinding grants
/// permissions within a specific namespace": a Role bound by a RoleBinding allows requests
/// in that namespace only — not in another, not across all namespaces.
#[test]
fn role_and_role_binding_grant_in_their_namespace_only() {
    let rbac = Rbac::from_documents(&[
        role("Role", Some("apps"), "r", services_rule(&["get", "list"])),
        binding("RoleBinding", Some("apps"), "Role", "r", the_sa()),
    ]);
    assert!(rbac.allows(&sa(), "get", "", "services", Some("apps"), Some("web")));
    assert!(rbac.allows(&sa(), "list", "", "services", Some("apps"), None));
    assert!(!rbac.allows(&sa(), "get", "", "services", Some("default"), Some("web")));
    assert!(
        !rbac.allows(&sa(), "list", "", "services", None, None),
        "all namespaces"
    );
    assert!(
        !rbac.allows(&sa(), "create", "", "services", Some("apps"), None),
        "verb"
    );
    assert!(!rbac.allows(&sa(), "get", "", "endpoints", Some("apps"), Some("web")));
}

/// A Role in another namespace than the RoleBinding is not the one it refers to ("a
/// RoleBinding may reference any Role in the same namespace"): nothing is granted.
#[test]
fn a_role_binding_refers_to_a_role_of_its_own_namespace() {
    let rbac = Rbac::from_documents(&[
        role("Role", Some("apps"), "r", services_rule(&["get"])),
        binding("RoleBinding", Some("default"), "Role", "r", the_sa()),
    ]);
    assert!(!rbac.allows(&sa(), "get", "", "services", Some("apps"), Some("web")));
    assert!(!rbac.allows(&sa(), "get", "", "services", Some("default"), Some("web")));
    assert!(rbac.grants(&sa()).is_empty());
}

/// "To grant permissions across a whole cluster, you can use a ClusterRoleBinding": in every
/// namespace, across all namespaces, and for cluster-scoped resources.
#[test]
fn cluster_role_binding_grants_everywhere() {
    let rbac = Rbac::from_documents(&[
        role(
            "ClusterRole",
            None,
            "c",
            json!([{"apiGroups": [""], "resources": ["services", "namespaces"],
                    "verbs": ["list", "get"]}]),
        ),
        binding("ClusterRoleBinding", None, "ClusterRole", "c", the_sa()),
    ]);
    assert!(rbac.allows(&sa(), "list", "", "services", None, None));
    assert!(rbac.allows(&sa(), "get", "", "services", Some("any"), Some("x")));
    assert!(rbac.allows(&sa(), "list", "", "namespaces", None, None));
    // A ClusterRoleBinding referring to a Role grants nothing (roleRef must be a ClusterRole).
    let wrong = Rbac::from_documents(&[
        role("Role", Some("apps"), "r", services_rule(&["list"])),
        binding("ClusterRoleBinding", None, "Role", "r", the_sa()),
    ]);
    assert!(!wrong.allows(&sa(), "list", "", "services", Some("apps"), None));
}

/// "A RoleBinding can also reference a ClusterRole to grant the permissions defined in that
/// ClusterRole to resources inside the RoleBinding's namespace."
#[test]
fn cluster_role_with_role_binding_grants_in_the_bindings_namespace() {
    let rbac = Rbac::from_documents(&[
        role("ClusterRole", None, "c", services_rule(&["list"])),
        binding("RoleBinding", Some("apps"), "ClusterRole", "c", the_sa()),
    ]);
    assert!(rbac.allows(&sa(), "list", "", "services", Some("apps"), None));
    assert!(!rbac.allows(&sa(), "list", "", "services", Some("default"), None));
    assert!(!rbac.allows(&sa(), "list", "", "services", None, None));
}

/// A binding for another account grants this one nothing: another name, or the same name in
/// another namespace. A ServiceAccount subject of a RoleBinding without a namespace is in
/// the binding's; Group subjects match the account's groups.
#[test]
fn bindings_apply_to_their_subjects_only() {
    let docs = |subjects: Value| {
        Rbac::from_documents(&[
            role("ClusterRole", None, "c", services_rule(&["list"])),
            binding(
                "RoleBinding",
                Some("svcmirror"),
                "ClusterRole",
                "c",
                subjects,
            ),
        ])
    };
    let allows = |rbac: Rbac| rbac.allows(&sa(), "list", "", "services", Some("svcmirror"), None);
    assert!(!allows(docs(
        json!([{"kind": "ServiceAccount", "name": "svcmirror-east",
                                  "namespace": "svcmirror"}])
    )));
    assert!(!allows(docs(
        json!([{"kind": "ServiceAccount", "name": "svcmirror-west",
                                  "namespace": "default"}])
    )));
    assert!(allows(docs(
        json!([{"kind": "ServiceAccount", "name": "svcmirror-west"}])
    )));
    assert!(allows(docs(json!([{"kind": "User",
                                 "name": "system:serviceaccount:svcmirror:svcmirror-west"}]))));
    assert!(allows(docs(json!([{"kind": "Group",
                                 "name": "system:serviceaccounts:svcmirror"}]))));
    assert!(!allows(docs(
        json!([{"kind": "Group", "name": "system:serviceaccounts:other"}])
    )));
    assert!(!allows(docs(json!([]))));
}

/// "Rules are purely additive (there are no deny rules)": the union of every rule of every
/// binding that applies.
#[test]
fn rules_of_all_bindings_are_unioned() {
    let rbac = Rbac::from_documents(&[
        role("ClusterRole", None, "read", services_rule(&["list"])),
        binding("ClusterRoleBinding", None, "ClusterRole", "read", the_sa()),
        role(
            "Role",
            Some("apps"),
            "write",
            json!([{"apiGroups": [""], "resources": ["services"], "verbs": ["create"]},
                   {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                    "verbs": ["delete"]}]),
        ),
        binding("RoleBinding", Some("apps"), "Role", "write", the_sa()),
    ]);
    assert!(rbac.allows(&sa(), "list", "", "services", Some("apps"), None));
    assert!(rbac.allows(&sa(), "create", "", "services", Some("apps"), None));
    assert!(rbac.allows(
        &sa(),
        "delete",
        "discovery.k8s.io",
        "endpointslices",
        Some("apps"),
        Some("s")
    ));
    assert!(!rbac.allows(&sa(), "create", "", "services", Some("default"), None));
    assert!(
        !rbac.allows(
            &sa(),
            "delete",
            "",
            "endpointslices",
            Some("apps"),
            Some("s")
        ),
        "group"
    );
}

/// `*` matches every API group, resource or verb; a subresource is matched only as
/// `resource/subresource` (or `*/subresource`), never by the bare resource, and the other way
/// round.
#[test]
fn wildcards_and_subresources() {
    let rbac = |rules: Value| {
        Rbac::from_documents(&[
            role("ClusterRole", None, "c", rules),
            binding("ClusterRoleBinding", None, "ClusterRole", "c", the_sa()),
        ])
    };
    let all = rbac(json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]));
    assert!(all.allows(
        &sa(),
        "patch",
        "multicluster.linkerd.io",
        "links/status",
        Some("a"),
        Some("w")
    ));
    let links = rbac(
        json!([{"apiGroups": ["multicluster.linkerd.io"], "resources": ["links"],
                             "verbs": ["get", "patch"]}]),
    );
    assert!(links.allows(
        &sa(),
        "patch",
        "multicluster.linkerd.io",
        "links",
        Some("a"),
        Some("w")
    ));
    assert!(!links.allows(
        &sa(),
        "patch",
        "multicluster.linkerd.io",
        "links/status",
        Some("a"),
        Some("w")
    ));
    let status = rbac(json!([{"apiGroups": ["multicluster.linkerd.io"],
                              "resources": ["links/status"], "verbs": ["patch"]}]));
    assert!(status.allows(
        &sa(),
        "patch",
        "multicluster.linkerd.io",
        "links/status",
        Some("a"),
        Some("w")
    ));
    assert!(!status.allows(
        &sa(),
        "patch",
        "multicluster.linkerd.io",
        "links",
        Some("a"),
        Some("w")
    ));
    let any_status =
        rbac(json!([{"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["patch"]}]));
    assert!(any_status.allows(
        &sa(),
        "patch",
        "multicluster.linkerd.io",
        "links/status",
        Some("a"),
        Some("w")
    ));
    assert!(!any_status.allows(
        &sa(),
        "patch",
        "multicluster.linkerd.io",
        "links",
        Some("a"),
        Some("w")
    ));
}

/// "You can also refer to resources by name for certain requests through the resourceNames
/// list": a named get/patch of a listed name only; never a create or a deletecollection; a
/// list or watch only with a `metadata.name` field selector naming a listed name.
#[test]
fn resource_names_restrict_to_named_requests() {
    let rbac = Rbac::from_documents(&[
        role(
            "Role",
            Some("svcmirror"),
            "r",
            json!([{"apiGroups": [""], "resources": ["secrets"],
                    "resourceNames": ["cluster-credentials-west"],
                    "verbs": ["get", "list", "watch", "create", "deletecollection"]}]),
        ),
        binding("RoleBinding", Some("svcmirror"), "Role", "r", the_sa()),
    ]);
    let ns = Some("svcmirror");
    let name = Some("cluster-credentials-west");
    assert!(rbac.allows(&sa(), "get", "", "secrets", ns, name));
    assert!(!rbac.allows(&sa(), "get", "", "secrets", ns, Some("other")));
    assert!(!rbac.allows(&sa(), "list", "", "secrets", ns, None));
    assert!(!rbac.allows(&sa(), "watch", "", "secrets", ns, None));
    assert!(!rbac.allows(&sa(), "create", "", "secrets", ns, None));
    assert!(!rbac.allows(&sa(), "deletecollection", "", "secrets", ns, None));
    // As the API server derives it from the URL: the field selector names the object.
    let q = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let path = "/api/v1/namespaces/svcmirror/secrets";
    let watch = attributes_of(
        &Method::GET,
        path,
        &q(&[
            ("watch", "true"),
            ("fieldSelector", "metadata.name=cluster-credentials-west"),
        ]),
    )
    .expect("resource");
    assert_eq!(watch, Attributes::new("watch", "", "secrets", ns, name));
    assert!(rbac.allowed(&sa(), &watch));
    let other = attributes_of(
        &Method::GET,
        path,
        &q(&[("fieldSelector", "metadata.name=other")]),
    )
    .expect("resource");
    assert!(!rbac.allowed(&sa(), &other));
    let all = attributes_of(&Method::GET, path, &q(&[])).expect("resource");
    assert_eq!(all, Attributes::new("list", "", "secrets", ns, None));
    assert!(!rbac.allowed(&sa(), &all));
}

/// The request attributes of the URLs svcmirror uses, as `RequestInfoFactory` derives them.
#[test]
fn request_attributes_from_urls() {
    let none = BTreeMap::new();
    let of = |method: Method, path: &str| attributes_of(&method, path, &none).expect("resource");
    assert_eq!(
        of(Method::GET, "/api/v1/services"),
        Attributes::new("list", "", "services", None, None)
    );
    assert_eq!(
        of(Method::POST, "/api/v1/namespaces/apps/services"),
        Attributes::new("create", "", "services", Some("apps"), None)
    );
    assert_eq!(
        of(
            Method::PATCH,
            "/apis/discovery.k8s.io/v1/namespaces/apps/endpointslices/s"
        ),
        Attributes::new(
            "patch",
            "discovery.k8s.io",
            "endpointslices",
            Some("apps"),
            Some("s")
        )
    );
    // A Namespace object is in its own namespace (a RoleBinding there may allow reading it).
    assert_eq!(
        of(Method::GET, "/api/v1/namespaces/apps"),
        Attributes::new("get", "", "namespaces", Some("apps"), Some("apps"))
    );
    assert_eq!(
        of(Method::GET, "/api/v1/namespaces"),
        Attributes::new("list", "", "namespaces", None, None)
    );
    assert_eq!(
        of(
            Method::PUT,
            "/apis/multicluster.linkerd.io/v1alpha3/namespaces/svcmirror/links/west/status"
        ),
        Attributes::new(
            "update",
            "multicluster.linkerd.io",
            "links/status",
            Some("svcmirror"),
            Some("west")
        )
    );
    assert_eq!(
        of(Method::DELETE, "/api/v1/namespaces/apps/services"),
        Attributes::new("deletecollection", "", "services", Some("apps"), None)
    );
    assert_eq!(
        of(
            Method::POST,
            "/api/v1/namespaces/svcmirror/serviceaccounts/sa/token"
        ),
        Attributes::new(
            "create",
            "",
            "serviceaccounts/token",
            Some("svcmirror"),
            Some("sa")
        )
    );
    assert_eq!(attributes_of(&Method::GET, "/version", &none), None);
}

/// The 403's message, word for word as the API server's.
#[test]
fn forbidden_message_is_the_api_servers() {
    let sa = ServiceAccount::new("ns", "sa");
    assert_eq!(
        forbidden_message(
            &sa,
            &Attributes::new("create", "", "services", Some("ns"), Some("x"))
        ),
        r#"services "x" is forbidden: User "system:serviceaccount:ns:sa" cannot create resource "services" in API group "" in the namespace "ns""#
    );
    assert_eq!(
        forbidden_message(
            &sa,
            &Attributes::new("list", "multicluster.linkerd.io", "links", None, None)
        ),
        r#"links.multicluster.linkerd.io is forbidden: User "system:serviceaccount:ns:sa" cannot list resource "links" in API group "multicluster.linkerd.io" at the cluster scope"#
    );
}

/// Least privilege, as the RBAC-equals-use tests measure it: each grant one verb, resource and
/// name at a time, where its binding applies; `unused` names those no request needed, `refused`
/// the requests nothing allows.
#[test]
fn unused_grants_and_refused_requests() {
    let rbac = Rbac::from_documents(&[
        role(
            "ClusterRole",
            None,
            "c",
            json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "watch"],
                    "resourceNames": ["a", "b"]}]),
        ),
        binding("RoleBinding", Some("apps"), "ClusterRole", "c", the_sa()),
    ]);
    let used = [
        Attributes::new("get", "", "secrets", Some("apps"), Some("a")),
        Attributes::new("watch", "", "secrets", Some("apps"), Some("a")),
        Attributes::new("get", "", "secrets", Some("default"), Some("b")),
    ];
    let unused: Vec<String> = rbac
        .unused(&sa(), &used)
        .iter()
        .map(|g| format!("{:?} {:?} {:?}", g.rule.verbs, g.rule.names, g.namespace))
        .collect();
    assert_eq!(
        unused,
        [
            r#"["get"] ["b"] Some("apps")"#,
            r#"["watch"] ["b"] Some("apps")"#
        ]
    );
    assert_eq!(rbac.refused(&sa(), &used), [used[2].clone()]);
}

/// The enforcing loopback server answers a request its RBAC does not allow as the API server
/// does — 403 Forbidden with the Kubernetes message — and serves the ones it allows; its access
/// reviews are answered by the same RBAC, with namespace and name.
#[tokio::test]
async fn enforcing_server_answers_403_and_reviews_by_rbac() {
    use k8s_openapi::api::authorization::v1::{
        ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    };
    use k8s_openapi::api::core::v1::Service as K8sService;
    use kube::api::{Api, ListParams, PostParams};

    let mut cluster = FakeCluster::default();
    cluster.create_namespace("apps").expect("namespace");
    let server = ApiServer::new(cluster);
    let docs: Vec<Value> = serde_json::from_value(serde_json::json!([
        {"kind": "Role", "metadata": {"name": "r", "namespace": "apps"},
         "rules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["list"]}]},
        {"kind": "RoleBinding", "metadata": {"name": "r", "namespace": "apps"},
         "roleRef": {"kind": "Role", "name": "r"},
         "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]}
    ]))
    .expect("docs");
    server.enforce_rbac(&docs, ServiceAccount::new("ns", "sa"));
    let client = client(spawn(server.clone()).await);
    let in_apps: Api<K8sService> = Api::namespaced(client.clone(), "apps");
    in_apps
        .list(&ListParams::default())
        .await
        .expect("list in apps is allowed");
    let everywhere: Api<K8sService> = Api::all(client.clone());
    match everywhere.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 403);
            assert_eq!(status.reason, "Forbidden");
            assert_eq!(
                status.message,
                "services is forbidden: User \"system:serviceaccount:ns:sa\" cannot list \
                 resource \"services\" in API group \"\" at the cluster scope"
            );
        }
        other => panic!("expected 403, got {other:?}"),
    }
    let review = |namespace: &str| SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some("list".into()),
                resource: Some("services".into()),
                namespace: Some(namespace.into()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client);
    for (namespace, allowed) in [("apps", true), ("default", false)] {
        let answer = reviews
            .create(&PostParams::default(), &review(namespace))
            .await
            .expect("review");
        assert_eq!(
            answer.status.map(|s| s.allowed),
            Some(allowed),
            "{namespace}"
        );
    }
    assert!(
        server
            .recorded()
            .contains(&Attributes::new("list", "", "services", None, None)),
        "the refused request is recorded too"
    );
}
