//! `svcmirror explain <namespace>/<name>` as a user runs it: the decision path in text and JSON,
//! a Service that is not exported (exit 0), one that does not exist (exit 1, stdout empty), and the
//! `--hostname-policy` link flag.

use assert_cmd::Command;

fn svcmirror() -> Command {
    Command::cargo_bin("svcmirror").expect("binary built")
}

fn west() -> String {
    format!(
        "{}/tests/data/explain-west.yaml",
        env!("CARGO_MANIFEST_DIR")
    )
}

const LINK: [&str; 4] = ["--cluster-name", "west", "--gateway-address", "172.18.0.4"];

fn explain(service: &str, extra: &[&str]) -> (i32, String, String) {
    let out = svcmirror()
        .args(["explain", service, "--target", &west()])
        .args(LINK)
        .args(extra)
        .output()
        .expect("runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf8"),
        String::from_utf8(out.stderr).expect("utf8"),
    )
}

#[test]
fn explain_headless_export_prints_decision_path_objects_plan_and_conditions() {
    let (code, out, err) = explain("default/nginx-svc", &["--enable-headless-services"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("default/nginx-svc: exported by link west, mode Headless\n"),
        "{out}"
    );
    for expected in [
        "SPEC §2 export selector: `mirror.linkerd.io/exported=true` matches",
        "SPEC §6.1 headless detection: spec.clusterIP is \"None\": headless",
        "SPEC §6.4 named-address rule: named addresses under hostname policy `hostname`: nginx-set-0 (10.42.0.31, ready, from hostname)",
        "Service default/nginx-svc-west (headless, 80/TCP)",
        "Endpoints default/nginx-set-0-west → 172.18.0.4",
        "create Service default/nginx-set-1-west",
        "Valid=True (Valid)",
        "Mirrored=False (Pending)",
        "Conflict=False (NoConflicts)",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    // Steps are numbered in the order the rules decided.
    let selector = out.find(" 1. SPEC §2 export selector").expect("step 1");
    let named = out.find("SPEC §6.4").expect("§6.4");
    assert!(selector < named);
}

#[test]
fn explain_headless_disabled_says_why_it_is_clusterip() {
    let (code, out, err) = explain("default/nginx-svc", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("mode ClusterIp"), "{out}");
    assert!(
        out.contains("SPEC §6.8 enable headless services: off on this link: mirrored as ClusterIP"),
        "{out}"
    );
    assert!(out.contains("Mirrored=False (Pending)"), "{out}");
}

#[test]
fn explain_json_is_the_core_explanation() {
    let (code, out, err) = explain(
        "default/nginx-svc",
        &["-o", "json", "--enable-headless-services"],
    );
    assert_eq!(code, 0, "{err}");
    let e: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(e["service"]["name"], "nginx-svc");
    assert_eq!(e["outcome"]["mode"], "Headless");
    assert_eq!(e["outcome"]["endpoint_mirrors"][1], "nginx-set-1-west");
    let steps = e["steps"].as_array().expect("steps");
    assert_eq!(steps[0]["rule"], "SPEC §2 export selector");
    assert_eq!(e["conditions"][1]["type"], "Mirrored");
    assert_eq!(e["conditions"][1]["status"], "False");
    assert_eq!(e["conditions"][1]["reason"], "Pending");
    assert_eq!(e["objects"].as_array().expect("objects").len(), 6);
    assert_eq!(e["operations"][0]["action"], "create");
}

#[test]
fn explain_not_exported_names_selectors_and_labels_exit_0() {
    let (code, out, err) = explain("default/plain", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("default/plain: not exported by link west\n"),
        "{out}"
    );
    assert!(
        out.contains("SPEC §2 export selector: `mirror.linkerd.io/exported=true` does not match"),
        "{out}"
    );
    assert!(out.contains("SPEC §9 remote-discovery selector"), "{out}");
    assert!(out.contains("(labels: app=plain)"), "{out}");
    assert!(!out.contains("conditions:"), "{out}");
}

#[test]
fn explain_missing_service_exits_1_with_empty_stdout() {
    let (code, out, err) = explain("default/nope", &[]);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("no Service default/nope in --target"), "{err}");
}

#[test]
fn explain_bad_key_or_policy_is_unusable_input() {
    let (code, out, err) = explain("a/b/c", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("is not <namespace>/<name>"), "{err}");
    let (code, out, err) = explain("default/nginx-pods", &["--hostname-policy", "pod-name"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("pod-name"), "{err}");
}

#[test]
fn explain_hostname_policy_flag_names_pods_without_hostnames() {
    // Linkerd's policy: no hostname, no pod mirrored (linkerd#10916).
    let (code, out, err) = explain("default/nginx-pods", &["--enable-headless-services"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("mode ClusterIp"), "{out}");
    assert!(out.contains("Mirrored=False (Pending)"), "{out}");
    assert!(out.contains("MirroredAsClusterIp"), "{out}");
    // target-ref behind Linkerd's gateway (the default resolution): it would not route, so the
    // pods are not named and the warning says why (SPEC §12 routing constraint).
    let (code, out, err) = explain(
        "default/nginx-pods",
        &[
            "--enable-headless-services",
            "--hostname-policy",
            "target-ref",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("mode ClusterIp"), "{out}");
    assert!(
        out.contains("SPEC §12 routing constraint: hostname policy `target-ref` cannot route"),
        "{out}"
    );
    // target-ref behind a gateway that resolves by DNS: each pod by its name.
    let (code, out, err) = explain(
        "default/nginx-pods",
        &[
            "--enable-headless-services",
            "--hostname-policy",
            "target-ref",
            "--gateway-resolution",
            "dns",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("mode Headless"), "{out}");
    assert!(
        out.contains("nginx-set-0 (10.42.0.31, ready, from targetRef.name)"),
        "{out}"
    );
    assert!(
        out.contains("create Service default/nginx-set-0-west"),
        "{out}"
    );
}

#[test]
fn explain_remote_discovery_export() {
    let (code, out, err) = explain("default/flat", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("mode RemoteDiscovery"), "{out}");
    assert!(
        out.contains("Service default/flat-west (ClusterIP, 80/TCP)"),
        "{out}"
    );
    assert!(!out.contains("Endpoints default/flat-west"), "{out}");
}
