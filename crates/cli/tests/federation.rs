//! SPEC §9 through the command: `translate`, `plan` and `simulate` produce the federated Service of
//! a member (`<name>-federated`, listing `<name>@<cluster>`, no Endpoints), `--federated-selector`
//! picks the members, and a source that already lists another cluster's entry keeps it.

use assert_cmd::Command;

fn svcmirror() -> Command {
    Command::cargo_bin("svcmirror").expect("binary built")
}

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

const LINK: [&str; 4] = ["--cluster-name", "west", "--gateway-address", "172.18.0.4"];

fn run(args: &[&str]) -> (i32, String, String) {
    let out = svcmirror().args(args).output().expect("runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf8"),
        String::from_utf8(out.stderr).expect("utf8"),
    )
}

#[test]
fn translate_writes_the_federated_service_of_a_member() {
    let target = data("federated.yaml");
    let (code, out, err) = run(&[&["translate", "--target", &target][..], &LINK].concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("name: web-federated"), "{out}");
    assert!(
        out.contains("multicluster.linkerd.io/remote-discovery: web@west"),
        "{out}"
    );
    assert!(out.contains("svcmirror.io/federated: \"true\""), "{out}");
    assert!(
        !out.contains("name: web-west"),
        "a member is not a mirror: {out}"
    );
    assert!(
        !out.contains("api-federated"),
        "not a member by default: {out}"
    );
}

#[test]
fn federated_selector_flag_picks_the_members() {
    let target = data("federated.yaml");
    let args = [
        &["translate", "--target", &target][..],
        &LINK,
        &["--federated-selector", "team.example.com/federate=yes"],
    ]
    .concat();
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("name: api-federated"), "{out}");
    assert!(!out.contains("web-federated"), "{out}");
    let bad = [
        &["translate", "--target", &target][..],
        &LINK,
        &["--federated-selector", "a in b"],
    ]
    .concat();
    let (code, out, err) = run(&bad);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    // `--federated-selector` is an alias of Linkerd's field name.
    assert!(err.contains("--federated-service-selector"), "{err}");
}

#[test]
fn plan_creates_it_and_simulate_converges_on_it() {
    let target = data("federated.yaml");
    let (code, out, err) = run(&[&["plan", "--target", &target][..], &LINK].concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("web-federated"), "{out}");
    let (code, out, err) =
        run(&[&["simulate", "--target", &target, "-o", "json"][..], &LINK].concat());
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    let fed = json["objects"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|o| o["metadata"]["name"] == "web-federated")
        .unwrap_or_else(|| panic!("no web-federated: {out}"));
    assert_eq!(
        fed["metadata"]["annotations"]["multicluster.linkerd.io/remote-discovery"],
        "web@west"
    );
    assert_eq!(json["stats"]["writes_after_resync"], 0, "{out}");
}

/// Another link's controller already wrote `web@east`: translating west keeps it (each link owns
/// only its own entry).
#[test]
fn translate_keeps_another_clusters_entry() {
    let dir = std::env::temp_dir().join(format!("svcmirror-fed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let source = dir.join("source.yaml");
    std::fs::write(
        &source,
        r#"apiVersion: v1
kind: Service
metadata:
  name: web-federated
  namespace: default
  uid: 0c0c0c0c-0000-0000-0000-000000000001
  resourceVersion: "5"
  labels: {app: web, mirror.linkerd.io/mirrored-service: "true", svcmirror.io/federated: "true"}
  annotations: {multicluster.linkerd.io/remote-discovery: web@east}
spec:
  clusterIP: 10.43.0.20
  ports: [{name: http, port: 8080, protocol: TCP, targetPort: 8080}]
"#,
    )
    .expect("write");
    let target = data("federated.yaml");
    let source = source.to_string_lossy().into_owned();
    let (code, out, err) = run(&[
        &["translate", "--target", &target, "--source", &source][..],
        &LINK,
    ]
    .concat());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("multicluster.linkerd.io/remote-discovery: web@east,web@west"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
