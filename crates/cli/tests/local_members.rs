//! SPEC §9, the local member, offline: `translate`, `plan` and `simulate` with `--local-members`
//! (the `--source` snapshot's own members, as `svcmirror local` writes them), named after
//! Linkerd's federated scenarios (`cluster_watcher_mirroring_test.go`: "local federated service
//! created", "… joined", "… left") plus a headless local member refused (`InvalidService`).

use assert_cmd::Command;

const LINK: [&str; 4] = ["--cluster-name", "west", "--gateway-address", "172.18.0.4"];

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("svcmirror")
        .expect("binary built")
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf8"),
        String::from_utf8(out.stderr).expect("utf8"),
    )
}

/// A Service `default/<name>` as YAML: a member when `member`, headless when `headless`, with
/// `annotations` (a federated Service when given any).
fn service(
    name: &str,
    port: u16,
    member: bool,
    headless: bool,
    annotations: &[(&str, &str)],
) -> String {
    let mut labels = format!("    app: {name}\n");
    if member {
        labels.push_str("    mirror.linkerd.io/federated: member\n");
    }
    if !annotations.is_empty() {
        labels = "    mirror.linkerd.io/mirrored-service: \"true\"\n    svcmirror.io/federated: \"true\"\n".to_owned();
    }
    let annotations: String = annotations
        .iter()
        .map(|(k, v)| format!("    {k}: \"{v}\"\n"))
        .collect();
    let annotations = if annotations.is_empty() {
        String::new()
    } else {
        format!("  annotations:\n{annotations}")
    };
    let cluster_ip = if headless { "None" } else { "10.43.0.20" };
    format!(
        "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: default\n  \
         uid: uid-{name}\n  resourceVersion: \"1\"\n  labels:\n{labels}{annotations}spec:\n  \
         clusterIP: {cluster_ip}\n  ports:\n  - name: http\n    port: {port}\n    protocol: TCP\n"
    )
}

struct Files(std::path::PathBuf);

impl Files {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("svcmirror-local-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    fn write(&self, name: &str, docs: &[String]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, docs.concat()).expect("write");
        path.to_string_lossy().into_owned()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The annotations of `web-federated` in a `translate` output (`None` when absent).
fn federated_entries(out: &str) -> Option<(Option<String>, Option<String>)> {
    let list: serde_json::Value = serde_json::from_str(out).expect("json");
    let svc = list["items"]
        .as_array()?
        .iter()
        .find(|o| o["kind"] == "Service" && o["metadata"]["name"] == "web-federated")?;
    let a = &svc["metadata"]["annotations"];
    let get = |k: &str| a[k].as_str().map(str::to_owned);
    Some((
        get("multicluster.linkerd.io/local-discovery"),
        get("multicluster.linkerd.io/remote-discovery"),
    ))
}

fn ports_of_federated(out: &str) -> Vec<u64> {
    let list: serde_json::Value = serde_json::from_str(out).expect("json");
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["metadata"]["name"] == "web-federated")
        .flat_map(|o| o["spec"]["ports"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["port"].as_u64())
        .collect()
}

/// Linkerd "local federated service created": the source's own member, no link member.
#[test]
fn local_member_created() {
    let files = Files::new("created");
    let target = files.write("target.yaml", &[service("other", 80, false, false, &[])]);
    let source = files.write("source.yaml", &[service("web", 8080, true, false, &[])]);
    let args = [
        &[
            "translate",
            "-o",
            "json",
            "--target",
            &target,
            "--source",
            &source,
            "--local-members",
        ][..],
        &LINK,
    ]
    .concat();
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(federated_entries(&out), Some((Some("web".into()), None)));
    // Without the flag the source's own member is nobody's (as without `svcmirror local`).
    let without: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| *a != "--local-members")
        .collect();
    let (code, out, err) = run(&without);
    assert_eq!(code, 0, "{err}");
    assert_eq!(federated_entries(&out), None);
}

/// Linkerd "local federated service joined": west's member and the local one, both listed; the
/// local member leads (its port, 8080, not west's 80); `plan` creates it once and `simulate`
/// converges on the same, writing nothing at its resync.
#[test]
fn local_member_joined() {
    let files = Files::new("joined");
    let target = files.write("target.yaml", &[service("web", 80, true, false, &[])]);
    let source = files.write("source.yaml", &[service("web", 8080, true, false, &[])]);
    let inputs = [
        &["--target", &target, "--source", &source, "--local-members"][..],
        &LINK,
    ]
    .concat();
    let (code, out, err) = run(&[&["translate", "-o", "json"][..], &inputs].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        federated_entries(&out),
        Some((Some("web".into()), Some("web@west".into())))
    );
    assert_eq!(ports_of_federated(&out), [8080]);

    let (code, out, err) = run(&[&["plan"][..], &inputs].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("web-federated").count(), 1, "{out}");
    assert!(out.contains("create"), "{out}");

    let (code, out, err) = run(&[&["simulate", "-o", "json"][..], &inputs].concat());
    assert_eq!(code, 0, "{err}");
    let sim: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(sim["stats"]["converged"], true, "{out}");
    assert_eq!(sim["stats"]["writes_after_resync"], 0, "{out}");
    let objects = serde_json::to_string(&sim["objects"]).expect("json");
    assert_eq!(
        federated_entries(&objects),
        Some((Some("web".into()), Some("web@west".into())))
    );
}

/// Linkerd "local federated service left": the source's `web` lost its label; its entry goes,
/// west's stays (an update); with no link member either, the federated Service is deleted.
#[test]
fn local_member_left() {
    let files = Files::new("left");
    let fed = service(
        "web-federated",
        8080,
        false,
        false,
        &[
            ("multicluster.linkerd.io/local-discovery", "web"),
            ("multicluster.linkerd.io/remote-discovery", "web@west"),
        ],
    );
    let source = files.write(
        "source.yaml",
        &[service("web", 8080, false, false, &[]), fed],
    );
    let member = files.write("member.yaml", &[service("web", 80, true, false, &[])]);
    let nobody = files.write("nobody.yaml", &[service("other", 80, false, false, &[])]);
    let (code, out, err) = run(&[
        &[
            "translate",
            "-o",
            "json",
            "--target",
            &member,
            "--source",
            &source,
            "--local-members",
        ][..],
        &LINK,
    ]
    .concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        federated_entries(&out),
        Some((None, Some("web@west".into())))
    );
    assert_eq!(ports_of_federated(&out), [80], "the lead passed to west");

    let (code, out, err) = run(&[
        &[
            "plan",
            "--target",
            &nobody,
            "--source",
            &source,
            "--local-members",
        ][..],
        &LINK,
    ]
    .concat());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("delete") && out.contains("web-federated"),
        "{out}"
    );
}

/// SPEC §9: a headless local member cannot join: `InvalidService` naming it, exit 1, and no
/// federated Service.
#[test]
fn headless_local_member_refused() {
    let files = Files::new("headless");
    let target = files.write("target.yaml", &[service("other", 80, false, false, &[])]);
    let source = files.write("source.yaml", &[service("web", 8080, true, true, &[])]);
    let (code, out, err) = run(&[
        &[
            "translate",
            "-o",
            "json",
            "--target",
            &target,
            "--source",
            &source,
            "--local-members",
        ][..],
        &LINK,
    ]
    .concat());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("InvalidService") && err.contains("default/web") && err.contains("headless"),
        "{err}"
    );
    assert_eq!(federated_entries(&out), None);
}

/// `--local-members` reads the members from `--source`: without it, a usage error (exit 2); a
/// custom selector is taken as given.
#[test]
fn local_members_needs_the_source_and_takes_a_selector() {
    let files = Files::new("flags");
    let target = files.write("target.yaml", &[service("other", 80, false, false, &[])]);
    let (code, out, err) = run(&[
        &["translate", "--target", &target, "--local-members"][..],
        &LINK,
    ]
    .concat());
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains("--source"), "{err}");
    let source = files.write("source.yaml", &[service("web", 8080, true, false, &[])]);
    let (code, out, err) = run(&[
        &[
            "translate",
            "-o",
            "json",
            "--target",
            &target,
            "--source",
            &source,
            "--local-members=app=web",
        ][..],
        &LINK,
    ]
    .concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(federated_entries(&out), Some((Some("web".into()), None)));
}
