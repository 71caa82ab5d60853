//! RBAC equals use (issue 12): every request the controller makes, recorded by the loopback API
//! servers as (API group, resource, verb), is exactly what the Roles in `deploy/` grant — per
//! cluster, both ways: nothing used is missing (the controller would get 403s) and nothing
//! granted goes unused (least privilege).
//!
//! The run covers what the controller does in its life: leader election (create, renew, release
//! the Lease), the seed walkthrough with EndpointSlices (`endpointsApi: both`), a namespace
//! creation (`createNamespaces`), the target's watch, a new export and its status Event, an
//! export withdrawn (deletes), the same report again (the Event refreshed with a PATCH) and a
//! resync. Server-side apply that creates an object is authorized as `create` as well as
//! `patch`, as by a real API server.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use svcmirror_backend::{Driver, DriverStatus, TokioClock};
use svcmirror_core::model::{Kind, Object, ObjectKey, Service, ServicePort};
use svcmirror_core::{EndpointsApi, Link};
use svcmirror_fake::FakeCluster;
use svcmirror_kube::lease::{LeaderElector, LeaseConfig};
use svcmirror_kube::{KubeSource, KubeTarget};
use tokio::sync::watch;

use support::*;

type Rule = (String, String, String);

const CONTROLLER: (&str, &str) = ("svcmirror", "svcmirror-west");
const REMOTE: (&str, &str) = ("svcmirror", "svcmirror-remote-west");

/// Every document of `deploy/<files>`.
fn deploy(files: &[&str]) -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(dir.join(file)).expect("manifest");
        docs.extend(serde_saphyr::from_multiple::<Value>(&text).expect("YAML"));
    }
    docs
}

/// Every (group, resource, verb) the Roles and ClusterRoles of `file` grant.
fn granted(files: &[&str]) -> BTreeSet<Rule> {
    let mut rules = BTreeSet::new();
    for doc in deploy(files)
        .iter()
        .filter(|d| d["kind"] == "Role" || d["kind"] == "ClusterRole")
    {
        for rule in doc["rules"].as_array().into_iter().flatten() {
            let list = |v: &Value| -> Vec<String> {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            };
            for group in list(&rule["apiGroups"]) {
                for resource in list(&rule["resources"]) {
                    for verb in list(&rule["verbs"]) {
                        rules.insert((group.clone(), resource.clone(), verb));
                    }
                }
            }
        }
    }
    rules
}

/// A grant of `get` on a kind the controller writes: the driver's re-read of one object after a
/// Conflict, a Timeout or an AlreadyExists (`Driver`'s re-read; exercised under faults by the
/// backend's tests): the code calls it, a fault-free run does not. Namespaces are written (so
/// re-read) only with createNamespaces: their `get` is the opt-in file's.
fn is_reread(grant: &Grant) -> bool {
    let resource = grant.rule.resources[0].as_str();
    grant.rule.verbs == ["get"]
        && (["services", "endpoints", "endpointslices"].contains(&resource)
            || (resource == "namespaces" && grant.via.contains("create-namespaces")))
}

const SOURCE_FILES: &[&str] = &["rbac-source.yaml", "rbac-source-create-namespaces.yaml"];

/// The RBAC objects of `deploy/<files>`, and the ServiceAccount they are for.
fn rbac_of(files: &[&str], (namespace, name): (&str, &str)) -> (Rbac, ServiceAccount) {
    (
        Rbac::from_documents(&deploy(files)),
        ServiceAccount::new(namespace, name),
    )
}

/// Waits (bounded) until `done` holds, re-checking after every status the driver publishes.
async fn wait_until(
    status: &mut watch::Receiver<DriverStatus>,
    mut done: impl FnMut() -> Result<(), String>,
) {
    let mut last = String::new();
    for _ in 0..500 {
        match done() {
            Ok(()) => return,
            Err(why) => last = why,
        }
        // A hang guard, not a timing assertion: the driver publishes after every reconcile.
        match tokio::time::timeout(Duration::from_secs(30), status.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("the driver stopped; last: {last}"),
            Err(_) => panic!("nothing happened for 30 s; last: {last}"),
        }
    }
    panic!("not done after 500 reconciles; last: {last}");
}

fn exported(namespace: &str, name: &str) -> Service {
    let mut svc = Service::new(namespace, name);
    svc.metadata
        .labels
        .insert("mirror.linkerd.io/exported".into(), "true".into());
    svc.spec.ports.push(ServicePort {
        port: 8080,
        ..ServicePort::default()
    });
    svc
}

fn has(east: &ApiServer, kind: Kind, namespace: &str, name: &str) -> Result<(), String> {
    east.lock()
        .get(kind, &ObjectKey::new(namespace, name))
        .map(drop)
        .ok_or(format!("no {kind} {namespace}/{name} in east"))
}

fn relabel(west: &ApiServer, exported_: bool) {
    west.write(|c| {
        let Some(Object::Service(mut web)) =
            c.get(Kind::Service, &ObjectKey::new("default", "web"))
        else {
            panic!("web exists");
        };
        if exported_ {
            web.metadata
                .labels
                .insert("mirror.linkerd.io/exported".into(), "true".into());
        } else {
            web.metadata.labels.remove("mirror.linkerd.io/exported");
        }
        c.update(Object::Service(web)).expect("relabel web");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_in_deploy_equals_the_requests_the_controller_makes() {
    let mut west_cluster = west();
    west_cluster.create_namespace("apps").expect("namespace");
    west_cluster
        .create(Object::Service(exported("apps", "api")))
        .expect("apps/api");
    let west = ApiServer::new(west_cluster);
    let east = ApiServer::new(FakeCluster::default());
    // Both API servers authorize as a real one would, by deploy/'s RBAC for the accounts it
    // binds: a request it does not allow is a 403, and the run does not converge.
    let (source_rbac, controller) = rbac_of(SOURCE_FILES, CONTROLLER);
    *east.enforce.lock().expect("lock") = Some((source_rbac, controller));
    let (target_rbac, remote) = rbac_of(&["rbac-target.yaml"], REMOTE);
    *west.enforce.lock().expect("lock") = Some((target_rbac, remote));
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(east.clone()).await);
    let link = Link::builder("west")
        .gateway_address("172.18.0.4".parse().expect("ip"))
        .enable_headless_services(true)
        .create_namespaces(true)
        .endpoints_api(EndpointsApi::Both)
        .build()
        .expect("link");

    // Leader election: create the Lease, renew it.
    let mut elector = LeaderElector::new(
        client(east_addr),
        LeaseConfig::new("svcmirror-west", "svcmirror", "replica-a"),
    );
    assert!(
        elector
            .try_acquire_or_renew(Instant::now())
            .await
            .expect("acquire")
    );
    assert!(
        elector
            .try_acquire_or_renew(Instant::now())
            .await
            .expect("renew")
    );

    let source = KubeSource::new(client(east_addr));
    // As `svcmirror run` builds it: every mode's members, endpoints read `auto` (the default).
    let target = KubeTarget::for_link(client(west_addr), &link)
        .with_target_endpoints(svcmirror_core::TargetEndpoints::Auto);
    let mut driver = Driver::new(link, source, target, TokioClock);
    let mut status = driver.subscribe();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        driver
            .run(async {
                let _ = stop_rx.await;
            })
            .await;
        driver
    });

    // The walkthrough, and apps/api in a namespace east did not have.
    wait_until(&mut status, || {
        seed_mirrored(&east.lock(), 3)?;
        has(&east, Kind::Namespace, "", "apps")?;
        has(&east, Kind::Service, "apps", "api-west")
    })
    .await;
    // A new export, seen through the watch: mirrored, and reported with an Event.
    west.write(|c| c.create(Object::Service(exported("default", "web"))))
        .expect("web");
    wait_until(&mut status, || {
        has(&east, Kind::Service, "default", "web-west")?;
        (west.count("POST events") > 0)
            .then_some(())
            .ok_or("no Event yet".into())
    })
    .await;
    // Withdrawn: its mirrors are deleted (Service, Endpoints, EndpointSlice).
    relabel(&west, false);
    wait_until(&mut status, || {
        match has(&east, Kind::Service, "default", "web-west") {
            Ok(()) => Err("web-west still exists".into()),
            Err(_) => Ok(()),
        }
    })
    .await;
    // Exported again: the same report, so the existing Event is refreshed (PATCH).
    relabel(&west, true);
    wait_until(&mut status, || {
        has(&east, Kind::Service, "default", "web-west")?;
        west.recorded()
            .iter()
            .any(|a| a.verb == "patch" && a.resource == "events")
            .then_some(())
            .ok_or("the repeated Event was not patched yet".into())
    })
    .await;
    // A scale-down: the endpoint mirror of the pod that went away is deleted, slices included.
    let slices_before = east.count("DELETE nginx-set-2-west-ipv4");
    west.write(|c| {
        c.update(Object::Endpoints({
            let mut ep = nginx_endpoints(2);
            ep.metadata.resource_version = None;
            ep
        }))
    })
    .expect("scale down");
    wait_until(&mut status, || {
        seed_mirrored(&east.lock(), 2)?;
        (east.count("DELETE nginx-set-2-west-ipv4") > slices_before)
            .then_some(())
            .ok_or("nginx-set-2-west-ipv4 not deleted yet".into())
    })
    .await;
    stop_tx.send(()).expect("driver running");
    let mut driver = running.await.expect("driver task");
    // A resync.
    driver.resync().await.expect("resync");
    // A gateway probe transition (SPEC §2.1), recorded as an Event on the Link in the controller's
    // namespace, as `svcmirror run`'s prober does.
    svcmirror_kube::record_gateway_transition(
        client(east_addr),
        "svcmirror".to_owned(),
        "west".to_owned(),
        svcmirror_core::probe::Transition::Dead,
    )
    .await;
    elector.release().await.expect("release");

    let used_source = east.recorded();
    let used_target = west.recorded();
    let (source_rbac, controller) = rbac_of(SOURCE_FILES, CONTROLLER);
    let (target_rbac, remote) = rbac_of(&["rbac-target.yaml"], REMOTE);
    let shown = |v: &[Attributes]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    let shown_grants = |v: &[Grant]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        shown(&source_rbac.refused(&controller, &used_source)),
        Vec::<String>::new(),
        "the controller makes these requests in the source cluster, deploy/ does not allow them"
    );
    let unused: Vec<Grant> = source_rbac
        .unused(&controller, &used_source)
        .into_iter()
        .filter(|g| !is_reread(g))
        .collect();
    assert_eq!(
        shown_grants(&unused),
        Vec::<String>::new(),
        "deploy/ grants these in the source cluster, the controller never uses them"
    );
    assert_eq!(
        shown(&target_rbac.refused(&remote, &used_target)),
        Vec::<String>::new(),
        "the controller makes these requests in the target cluster, deploy/ does not allow them"
    );
    assert_eq!(
        shown_grants(&target_rbac.unused(&remote, &used_target)),
        Vec::<String>::new(),
        "deploy/ grants these in the target cluster, the controller never uses them"
    );
    let used_source: BTreeSet<Rule> = used_source.iter().map(Attributes::triple).collect();
    // Namespace creation is a server-side apply: create and patch (issue 12: only create was
    // granted, so it got 403).
    assert!(used_source.contains(&(String::new(), "namespaces".into(), "patch".into())));
    assert!(used_source.contains(&(String::new(), "namespaces".into(), "create".into())));
    let opt_in = granted(&["rbac-source-create-namespaces.yaml"]);
    assert!(
        opt_in
            .iter()
            .all(|(_, resource, _)| resource == "namespaces"),
        "the opt-in file grants namespace writes only: {opt_in:?}"
    );
}

/// RBAC equals use for a source confined to namespaces (`svcmirror run --namespaces
/// default,apps` with `deploy/rbac-source-namespaced.yaml` instead of rbac-source.yaml): a
/// ClusterRole bound by one RoleBinding per namespace, the Lease's Role in the controller's
/// namespace. Enforced as a real API server does, the run converges, and every grant — in each
/// namespace it is bound in — is used, leader election and the gateway Event included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_of_the_namespaced_source_equals_the_requests_of_a_confined_controller() {
    let mut west_cluster = west();
    west_cluster.create_namespace("apps").expect("namespace");
    west_cluster
        .create(Object::Service(exported("apps", "api")))
        .expect("apps/api");
    // With endpoints, so that its mirror has an EndpointSlice in apps.
    let mut api_endpoints = nginx_endpoints(1);
    api_endpoints.metadata.namespace = "apps".into();
    api_endpoints.metadata.name = "api".into();
    west_cluster
        .create(Object::Endpoints(api_endpoints))
        .expect("apps/api endpoints");
    let west = ApiServer::new(west_cluster);
    let mut east_cluster = FakeCluster::default();
    east_cluster.create_namespace("apps").expect("namespace");
    let east = ApiServer::new(east_cluster);
    let files = &["rbac-source-namespaced.yaml"];
    let (source_rbac, controller) = rbac_of(files, CONTROLLER);
    *east.enforce.lock().expect("lock") = Some((source_rbac.clone(), controller.clone()));
    let (target_rbac, remote) = rbac_of(&["rbac-target.yaml"], REMOTE);
    *west.enforce.lock().expect("lock") = Some((target_rbac, remote));
    let (west_addr, east_addr) = (spawn(west.clone()).await, spawn(east.clone()).await);
    let link = Link::builder("west")
        .gateway_address("172.18.0.4".parse().expect("ip"))
        .enable_headless_services(true)
        .endpoints_api(EndpointsApi::Both)
        .build()
        .expect("link");
    let mut elector = LeaderElector::new(
        client(east_addr),
        LeaseConfig::new("svcmirror-west", "svcmirror", "replica-a"),
    );
    assert!(
        elector
            .try_acquire_or_renew(Instant::now())
            .await
            .expect("acquire")
    );
    let source = KubeSource::new(client(east_addr))
        .with_namespaces(["default".to_owned(), "apps".to_owned()]);
    let target = KubeTarget::for_link(client(west_addr), &link);
    let mut driver = Driver::new(link, source, target, TokioClock);
    let mut status = driver.subscribe();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        driver
            .run(async {
                let _ = stop_rx.await;
            })
            .await;
    });
    wait_until(&mut status, || {
        seed_mirrored(&east.lock(), 3)?;
        has(&east, Kind::Service, "apps", "api-west")
    })
    .await;
    // A scale-down in default: the mirrors of the pod that went away are deleted, slice included.
    let slices_before = east.count("DELETE nginx-set-2-west-ipv4");
    west.write(|c| {
        c.update(Object::Endpoints({
            let mut ep = nginx_endpoints(2);
            ep.metadata.resource_version = None;
            ep
        }))
    })
    .expect("scale down");
    wait_until(&mut status, || {
        seed_mirrored(&east.lock(), 2)?;
        (east.count("DELETE nginx-set-2-west-ipv4") > slices_before)
            .then_some(())
            .ok_or("nginx-set-2-west-ipv4 not deleted yet".into())
    })
    .await;
    // apps/api withdrawn: its mirrors in apps are deleted.
    west.write(|c| {
        let Some(Object::Service(mut api)) = c.get(Kind::Service, &ObjectKey::new("apps", "api"))
        else {
            panic!("api exists");
        };
        api.metadata.labels.remove("mirror.linkerd.io/exported");
        c.update(Object::Service(api)).expect("relabel api");
    });
    wait_until(&mut status, || {
        match has(&east, Kind::Service, "apps", "api-west") {
            Ok(()) => Err("api-west still exists".into()),
            Err(_) => Ok(()),
        }
    })
    .await;
    stop_tx.send(()).expect("driver running");
    running.await.expect("driver task");
    svcmirror_kube::record_gateway_transition(
        client(east_addr),
        "svcmirror".to_owned(),
        "west".to_owned(),
        svcmirror_core::probe::Transition::Dead,
    )
    .await;
    elector.release().await.expect("release");

    let used = east.recorded();
    let shown = |v: &[Attributes]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        shown(&source_rbac.refused(&controller, &used)),
        Vec::<String>::new(),
        "a confined controller makes these requests, rbac-source-namespaced.yaml does not allow them"
    );
    let unused: Vec<String> = source_rbac
        .unused(&controller, &used)
        .iter()
        .filter(|g| !is_reread(g))
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        unused,
        Vec::<String>::new(),
        "rbac-source-namespaced.yaml grants these, a confined controller never uses them"
    );
}

/// The loopback server's RBAC evaluator (`support::rbac`) against the semantics of the
/// Kubernetes RBAC docs (<https://kubernetes.io/docs/reference/access-authn-authz/rbac/>) and
/// the apiserver's request attributes (`k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`).
mod authorizer {
    use std::collections::BTreeMap;

    use http::Method;
    use serde_json::{Value, json};

    use super::support::{Attributes, Rbac, ServiceAccount, attributes_of, forbidden_message};

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
        let allows =
            |rbac: Rbac| rbac.allows(&sa(), "list", "", "services", Some("svcmirror"), None);
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
        let of =
            |method: Method, path: &str| attributes_of(&method, path, &none).expect("resource");
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
