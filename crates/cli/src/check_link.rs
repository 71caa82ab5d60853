//! `svcmirror check --link-name`: the link as `svcmirror run --link-name` gets it (SPEC §2.2) —
//! the Link resource read the way the controller's watch reads it (a list in the Link's namespace
//! with the `metadata.name` field selector, which `deploy/rbac-link.yaml`'s `resourceNames`
//! allow; a plain get is not granted), its spec with the flags' fields over it
//! (`link_mode::spec_of`), the gateway names resolved, and the credentials Secret it names read
//! for the target's kubeconfig (`LinkResource::credentials`). Each step is a checklist line; the
//! first that fails ends the reading (`None`), with what to do.

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, TypeMeta};
use svcmirror_core::{Link, LinkSpec};
use svcmirror_kube::link_resource::{LINK_GROUP, LINK_VERSION, LinkResource};

use crate::checklist::Checklist;
use crate::clusters::{Connected, connect_kubeconfig_text};
use crate::link_mode::{credentials_secret, spec_of};
use crate::permissions::LinkRef;

/// What the flags say beside `--link-name`.
pub struct Wanted<'a> {
    /// The Link's namespace.
    pub namespace: &'a str,
    /// The Link's name.
    pub name: &'a str,
    /// Fields the flags set: they override the Link's (as for `run`).
    pub overrides: &'a LinkSpec,
    /// `--target-context` in the Secret's kubeconfig.
    pub target_context: Option<&'a str>,
    /// `--gateway-down`.
    pub gateway_down: bool,
}

/// The link read from the source, the target client built from its Secret.
pub struct FromCluster {
    /// The link, gateway names resolved.
    pub link: Link,
    /// The Link and its Secret, for the permission checks.
    pub followed: LinkRef,
    /// The target, as the Secret's kubeconfig reaches it.
    pub target: Connected,
}

/// Reads the Link `wanted` names and its Secret from `source`, a checklist line per step.
pub async fn read(
    list: &mut Checklist,
    source: &Connected,
    wanted: &Wanted<'_>,
) -> Option<FromCluster> {
    let id = format!("{}/{}", wanted.namespace, wanted.name);
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(LINK_GROUP, LINK_VERSION, "Link"),
        "links",
    );
    let links: Api<DynamicObject> =
        Api::namespaced_with(source.client.clone(), wanted.namespace, &resource);
    let found = links
        .list(&ListParams::default().fields(&format!("metadata.name={}", wanted.name)))
        .await;
    let what = format!("the Link {id} exists in the source");
    let mut link = match found {
        Ok(found) => match found.items.into_iter().next() {
            Some(link) => link,
            None => {
                list.fail(
                    &what,
                    &format!(
                        "not found: apply it (`svcmirror link --link-resource --namespace {}`), or \
                         give --link-namespace",
                        wanted.namespace
                    ),
                );
                return None;
            }
        },
        Err(kube::Error::Api(status)) if status.code == 404 => {
            list.fail(
                &what,
                "the source has no Link CRD (links.multicluster.linkerd.io): install Linkerd's \
                 multicluster CRDs, or give the link as a file (--link)",
            );
            return None;
        }
        // The controller reads it with the same request: it would be refused too.
        Err(e) if matches!(&e, kube::Error::Api(s) if s.code == 403) => {
            list.fail(
                &format!("the Link {id} is readable by this account"),
                &format!(
                    "{}: grant it (deploy/rbac-link.yaml: a Role and RoleBinding in namespace {} \
                     for the controller's ServiceAccount, resourceNames [{}])",
                    svcmirror_kube::describe(&e),
                    wanted.namespace,
                    wanted.name
                ),
            );
            return None;
        }
        Err(e) => {
            list.fail(&what, &svcmirror_kube::describe(&e));
            return None;
        }
    };
    list.ok(&what);
    // A list's items may come without their type; the spec reader wants a Link manifest.
    link.types.get_or_insert_with(|| TypeMeta {
        api_version: format!("{LINK_GROUP}/{LINK_VERSION}"),
        kind: "Link".to_owned(),
    });
    let manifest = serde_json::to_value(&link).unwrap_or_default();
    let built = spec_of(&manifest, wanted.overrides).and_then(|spec| {
        let link = Link::from_spec(&spec, crate::link_file::resolve)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok((spec, link))
    });
    let (spec, link) = match built {
        Ok(built) => built,
        Err(e) => {
            list.fail(
                &format!("the Link {id} is valid"),
                &format!("{e:#}: the controller mirrors nothing until it is fixed"),
            );
            return None;
        }
    };
    let link = link.with_gateway_alive(!wanted.gateway_down);
    let secret = credentials_secret(&spec);
    let followed = LinkRef {
        namespace: wanted.namespace.to_owned(),
        name: wanted.name.to_owned(),
        secret: secret.clone(),
    };
    let what = format!(
        "the credentials Secret {}/{secret} holds a kubeconfig",
        wanted.namespace
    );
    let kubeconfig = match LinkResource::new(source.client.clone(), wanted.namespace, wanted.name)
        .credentials(&secret)
        .await
    {
        Ok(kubeconfig) => kubeconfig,
        Err(e) => {
            list.fail(
                &what,
                &format!(
                    "{e}: apply the Secret `svcmirror link` prints (the controller waits for it)"
                ),
            );
            return None;
        }
    };
    let target = match connect_kubeconfig_text(&kubeconfig, wanted.target_context).await {
        Ok(target) => target,
        Err(e) => {
            list.fail(&what, &format!("its kubeconfig is not usable: {e:#}"));
            return None;
        }
    };
    list.ok(&format!("{what} (target {})", target.server));
    Some(FromCluster {
        link,
        followed,
        target,
    })
}
