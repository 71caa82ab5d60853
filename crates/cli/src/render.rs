//! Human and JSON renderings of plans, and kubectl-like tables.

use std::io::{self, Write};

use serde::Serialize;
use svcmirror_core::model::{EndpointSlice, Endpoints, Kind, Object, ObjectKey, Service};
use svcmirror_core::{Diagnostic, Operation, Plan, SourceState};

/// `translate --for-apply`: `object` without what the API server sets (uid, resourceVersion,
/// creationTimestamp; a Service's allocated clusterIP and clusterIPs — `None` of a headless
/// Service is kept, it is the Service's own choice), so that `kubectl apply -f` accepts it.
pub fn for_apply(mut object: Object) -> Object {
    let meta = match &mut object {
        Object::Namespace(ns) => {
            ns.metadata.uid = None;
            ns.metadata.resource_version = None;
            return object;
        }
        Object::Service(svc) => {
            if !svc.is_headless() {
                svc.spec.cluster_ip = None;
                svc.spec.cluster_ips.clear();
            }
            &mut svc.metadata
        }
        Object::Endpoints(ep) => &mut ep.metadata,
        Object::EndpointSlice(slice) => &mut slice.metadata,
    };
    meta.uid = None;
    meta.resource_version = None;
    meta.creation_timestamp = None;
    object
}

#[derive(Serialize)]
struct OperationView<'a> {
    action: &'static str,
    kind: Kind,
    namespace: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    changed: Option<&'a [&'static str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<svcmirror_core::DeleteReason>,
    /// The indices of the operations this one waits for (`Plan::prerequisites`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    after: Vec<usize>,
}

/// `{"operations": [{"action","kind","namespace","name",…,"after"}], "diagnostics": [...]}`;
/// `after` lists the indices of the operations one waits for.
pub fn plan_json(plan: &Plan, diagnostics: &[&Diagnostic], out: &mut impl Write) -> io::Result<()> {
    let keys: Vec<ObjectKey> = plan.operations.iter().map(Operation::key).collect();
    let operations: Vec<OperationView<'_>> = plan
        .operations
        .iter()
        .zip(&keys)
        .enumerate()
        .map(|(index, (op, key))| OperationView {
            action: op.action(),
            kind: op.kind(),
            namespace: &key.namespace,
            name: &key.name,
            changed: match op {
                Operation::Update { changed, .. } => Some(changed.as_slice()),
                _ => None,
            },
            reason: match op {
                Operation::Delete { reason, .. } => Some(*reason),
                _ => None,
            },
            after: plan.prerequisites(index).collect(),
        })
        .collect();
    #[derive(Serialize)]
    struct View<'a> {
        operations: Vec<OperationView<'a>>,
        diagnostics: &'a [&'a Diagnostic],
    }
    serde_json::to_writer_pretty(
        &mut *out,
        &View {
            operations,
            diagnostics,
        },
    )?;
    writeln!(out)
}

/// A readable diff: `+` create, `~` update (with the old and new value of each changed field
/// group), `-` delete.
pub fn plan_text(plan: &Plan, source: &SourceState, out: &mut impl Write) -> io::Result<()> {
    if plan.is_empty() {
        return writeln!(
            out,
            "No changes: the source cluster already holds the mirrored state."
        );
    }
    for op in &plan.operations {
        match op {
            Operation::Create { object } => {
                writeln!(out, "+ create {} {}", object.kind(), object.key())?;
                for line in summary(object) {
                    writeln!(out, "    {line}")?;
                }
            }
            Operation::Update {
                object, changed, ..
            } => {
                writeln!(
                    out,
                    "~ update {} {} ({})",
                    object.kind(),
                    object.key(),
                    changed.join(", ")
                )?;
                let before = observed(source, object);
                for field in changed {
                    let (old, new) = (
                        field_json(before.as_ref(), field),
                        field_json(Some(object), field),
                    );
                    writeln!(out, "    - {field}: {old}")?;
                    writeln!(out, "    + {field}: {new}")?;
                }
            }
            Operation::Delete {
                kind, key, reason, ..
            } => {
                writeln!(
                    out,
                    "- delete {kind} {key} ({})",
                    match reason {
                        svcmirror_core::DeleteReason::Orphan => "no longer mirrored",
                        svcmirror_core::DeleteReason::TypeChange =>
                            "ClusterIP/headless change: re-created",
                        svcmirror_core::DeleteReason::Reassigned =>
                            "the name goes to another export: re-created",
                        _ => "other",
                    }
                )?;
            }
            other => writeln!(out, "? {} {} {}", other.action(), other.kind(), other.key())?,
        }
    }
    let (c, u, d) = plan
        .operations
        .iter()
        .fold((0, 0, 0), |(c, u, d), op| match op {
            Operation::Create { .. } => (c + 1, u, d),
            Operation::Update { .. } => (c, u + 1, d),
            Operation::Delete { .. } => (c, u, d + 1),
            _ => (c, u, d),
        });
    writeln!(out, "Plan: {c} to create, {u} to update, {d} to delete.")
}

fn observed(source: &SourceState, object: &Object) -> Option<Object> {
    let key = object.key();
    match object {
        Object::Service(_) => source.service(&key).cloned().map(Object::Service),
        Object::Endpoints(_) => source.endpoints_at(&key).cloned().map(Object::Endpoints),
        Object::EndpointSlice(_) => source
            .endpoint_slice_at(&key)
            .cloned()
            .map(Object::EndpointSlice),
        Object::Namespace(_) => None,
    }
}

fn field_json(object: Option<&Object>, field: &str) -> String {
    let Some(object) = object else {
        return "<none>".into();
    };
    let value = serde_json::to_value(object).unwrap_or_default();
    let pointer = format!("/{}", field.replace('.', "/"));
    value
        .pointer(&pointer)
        .map_or_else(|| "<none>".into(), ToString::to_string)
}

fn summary(object: &Object) -> Vec<String> {
    match object {
        Object::Service(s) => vec![format!("{} {}", service_type(s), ports(s))],
        Object::Endpoints(e) => vec![endpoints_line(e)],
        Object::EndpointSlice(e) => vec![format!("{} {}", e.address_type, slice_line(e))],
        Object::Namespace(_) => Vec::new(),
    }
}

fn service_type(s: &Service) -> &'static str {
    if s.is_headless() {
        "headless"
    } else {
        "ClusterIP"
    }
}

/// `80/TCP,9090/TCP`, as kubectl's PORT(S) column.
pub fn ports(s: &Service) -> String {
    s.spec
        .ports
        .iter()
        .map(|p| format!("{}/{}", p.port, p.protocol.as_deref().unwrap_or("TCP")))
        .collect::<Vec<_>>()
        .join(",")
}

/// `10.43.1.2:80 (nginx-set-0), …` or `<none>`.
pub fn endpoints_line(e: &Endpoints) -> String {
    let mut parts = Vec::new();
    for s in &e.subsets {
        for (a, ready) in s
            .addresses
            .iter()
            .map(|a| (a, true))
            .chain(s.not_ready_addresses.iter().map(|a| (a, false)))
        {
            for p in &s.ports {
                parts.push(endpoint_part(
                    format!("{}:{}", a.ip, p.port),
                    a.hostname.as_deref(),
                    ready,
                ));
            }
        }
    }
    joined_or_none(&parts)
}

/// An EndpointSlice as [`endpoints_line`] shows Endpoints: `10.43.1.2:80 (nginx-set-0), …` or
/// `<none>`.
pub fn slice_line(e: &EndpointSlice) -> String {
    let mut parts = Vec::new();
    for endpoint in &e.endpoints {
        for address in &endpoint.addresses {
            for p in &e.ports {
                parts.push(endpoint_part(
                    match p.port {
                        Some(port) => format!("{address}:{port}"),
                        None => address.clone(),
                    },
                    endpoint.hostname.as_deref(),
                    endpoint.conditions.ready != Some(false),
                ));
            }
        }
    }
    joined_or_none(&parts)
}

/// `address:port (hostname) [not ready]`, as the `ENDPOINTS` column shows one endpoint.
fn endpoint_part(address_port: String, hostname: Option<&str>, ready: bool) -> String {
    let mut part = address_port;
    if let Some(h) = hostname {
        part.push_str(&format!(" ({h})"));
    }
    if !ready {
        part.push_str(" [not ready]");
    }
    part
}

/// The parts joined by `, `, or `<none>`.
fn joined_or_none(parts: &[String]) -> String {
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(", ")
    }
}

/// `kubectl get services`: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S).
pub fn services_table(services: &[&Service], out: &mut impl Write) -> io::Result<()> {
    let rows: Vec<[String; 5]> = services
        .iter()
        .map(|s| {
            [
                s.metadata.name.clone(),
                s.spec.type_.clone().unwrap_or_else(|| "ClusterIP".into()),
                s.spec
                    .cluster_ip
                    .clone()
                    .unwrap_or_else(|| "<pending>".into()),
                "<none>".into(),
                ports(s),
            ]
        })
        .collect();
    let header = ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("   ").trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use svcmirror_core::model::ServicePort;

    #[test]
    fn table_aligns_columns_like_kubectl() {
        let mut a = Service::new("default", "nginx-set-0-west");
        a.spec.cluster_ip = Some("10.43.179.60".into());
        a.spec.ports = vec![ServicePort {
            port: 80,
            protocol: Some("TCP".into()),
            ..Default::default()
        }];
        let mut b = Service::new("default", "nginx-svc-west");
        b.spec.cluster_ip = Some("None".into());
        b.spec.ports = a.spec.ports.clone();
        let mut out = Vec::new();
        services_table(&[&b, &a], &mut out).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(
            text,
            "NAME               TYPE        CLUSTER-IP     EXTERNAL-IP   PORT(S)\n\
             nginx-svc-west     ClusterIP   None           <none>        80/TCP\n\
             nginx-set-0-west   ClusterIP   10.43.179.60   <none>        80/TCP\n"
        );
    }
}
