//! `--endpoints-api` (SPEC §12): `svcmirror translate` and `plan` on the seed (west's headless
//! `nginx-svc` with three StatefulSet pods) write EndpointSlices beside or instead of Endpoints.

use assert_cmd::Command;
use serde_json::Value;

fn svcmirror() -> Command {
    Command::cargo_bin("svcmirror").expect("binary built")
}

fn seed() -> String {
    format!("{}/demo/west.yaml", env!("CARGO_MANIFEST_DIR"))
}

const LINK: [&str; 5] = [
    "--cluster-name",
    "west",
    "--gateway-address",
    "172.18.0.4",
    "--enable-headless-services",
];

/// `svcmirror <command> -o json` on the seed with `extra` flags, which must exit 0: its JSON.
fn json_of(command: &str, extra: &[&str]) -> Value {
    let out = svcmirror()
        .args([command, "-o", "json", "--target", &seed()])
        .args(LINK)
        .args(extra)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// `svcmirror translate -o json` with `extra` flags: its items.
fn translate(extra: &[&str]) -> Vec<Value> {
    json_of("translate", extra)["items"]
        .as_array()
        .expect("items")
        .clone()
}

fn of_kind<'a>(items: &'a [Value], kind: &str) -> Vec<&'a Value> {
    items.iter().filter(|i| i["kind"] == kind).collect()
}

#[test]
fn translate_with_both_emits_slices_beside_the_endpoints() {
    let items = translate(&["--endpoints-api", "both"]);
    let endpoints = of_kind(&items, "Endpoints");
    let slices = of_kind(&items, "EndpointSlice");
    assert_eq!(endpoints.len(), 4);
    let names: Vec<&str> = slices
        .iter()
        .map(|s| s["metadata"]["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "nginx-set-0-west-ipv4",
            "nginx-set-1-west-ipv4",
            "nginx-set-2-west-ipv4",
            "nginx-svc-west-ipv4"
        ]
    );
    for s in &slices {
        assert_eq!(s["apiVersion"], "discovery.k8s.io/v1");
        assert_eq!(s["addressType"], "IPv4");
        let labels = &s["metadata"]["labels"];
        assert_eq!(
            labels["endpointslice.kubernetes.io/managed-by"],
            "svcmirror.io"
        );
        assert_eq!(labels["multicluster.kubernetes.io/source-cluster"], "west");
        assert_eq!(
            labels["multicluster.kubernetes.io/service-name"],
            "nginx-svc"
        );
        assert_eq!(labels["mirror.linkerd.io/mirrored-service"], "true");
        assert_eq!(labels["mirror.linkerd.io/cluster-name"], "west");
    }
    // The root slice maps each hostname to its endpoint mirror's ClusterIP.
    let root = slices[3];
    assert_eq!(
        root["metadata"]["labels"]["kubernetes.io/service-name"],
        "nginx-svc-west"
    );
    let services = of_kind(&items, "Service");
    let ip_of = |name: &str| {
        services
            .iter()
            .find(|s| s["metadata"]["name"] == name)
            .map(|s| s["spec"]["clusterIP"].clone())
            .expect("endpoint mirror")
    };
    let root_endpoints = root["endpoints"].as_array().expect("endpoints");
    assert_eq!(root_endpoints.len(), 3);
    for e in root_endpoints {
        let hostname = e["hostname"].as_str().expect("hostname");
        assert_eq!(e["addresses"][0], ip_of(&format!("{hostname}-west")), "{e}");
        assert_eq!(e["conditions"]["ready"], true);
    }
    // The Endpoints are marked so Kubernetes' mirroring controller leaves them alone.
    for ep in endpoints {
        assert_eq!(
            ep["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"],
            "true"
        );
    }
}

#[test]
fn default_and_slices_modes() {
    let default = translate(&[]);
    assert!(of_kind(&default, "EndpointSlice").is_empty());
    assert_eq!(of_kind(&default, "Endpoints").len(), 4);
    let slices = translate(&["--endpoints-api", "slices"]);
    assert!(of_kind(&slices, "Endpoints").is_empty());
    assert_eq!(of_kind(&slices, "EndpointSlice").len(), 4);
}

#[test]
fn an_unknown_endpoints_api_is_a_usage_error() {
    let out = svcmirror()
        .args(["translate", "--target", &seed()])
        .args(LINK)
        .args(["--endpoints-api", "slice"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn plan_shows_slice_creations() {
    let out = svcmirror()
        .args(["plan", "--target", &seed()])
        .args(LINK)
        .args(["--endpoints-api", "both"])
        .output()
        .expect("runs");
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert!(
        text.contains("EndpointSlice") && text.contains("nginx-set-0-west-ipv4"),
        "{text}"
    );
}

#[test]
fn simulate_with_both_converges_through_the_driver_and_a_resync_writes_nothing() {
    let sim = json_of(
        "simulate",
        &[
            "--endpoints-api",
            "both",
            "--fault-rate",
            "0.2",
            "--seed",
            "7",
        ],
    );
    assert_eq!(sim["stats"]["converged"], true, "{sim}");
    assert_eq!(sim["stats"]["writes_after_resync"], 0, "{sim}");
    let items = sim["objects"]["items"].as_array().expect("items");
    assert_eq!(of_kind(items, "EndpointSlice").len(), 4);
    assert_eq!(of_kind(items, "Endpoints").len(), 4);
}
