//! Issue 14, SPEC §8: what the source API server would refuse for one export is that export's
//! diagnostic — exit 1, the rest mirrored — never a failure of the whole link (exit 2); and the
//! link's limits bound what an input can cost.

use assert_cmd::Command;
use serde_json::{Value, json};

fn svcmirror() -> Command {
    Command::cargo_bin("svcmirror").expect("binary built")
}

const LINK: [&str; 5] = [
    "--cluster-name",
    "west",
    "--gateway-address",
    "172.18.0.4",
    "--enable-headless-services",
];

/// Runs `svcmirror <args> <LINK>` with `stdin`: exit code, stdout, stderr.
fn run(args: &[&str], stdin: Option<String>) -> (Option<i32>, String, String) {
    let mut cmd = svcmirror();
    cmd.args(args).args(LINK);
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    let out = cmd.output().expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Deliverable 9: two ports named `sql` in one subset made `translate --endpoints-api slices`
/// exit 2 ("the in-memory API server rejected create EndpointSlice default/db-west-ipv4 …
/// Duplicate value"). Now: exit 1, one line naming the export and the field, everything else —
/// `db` without the duplicate, and `web` — mirrored.
#[test]
fn duplicate_port_names_exit_1_not_2_and_the_rest_is_mirrored() {
    let target = format!(
        "{}/tests/data/duplicate-port-names.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    for api in ["slices", "both", "endpoints"] {
        let (code, stdout, stderr) = run(
            &[
                "translate",
                "-o",
                "json",
                "--endpoints-api",
                api,
                "--target",
                &target,
            ],
            None,
        );
        assert_eq!(code, Some(1), "{api}: {stderr}");
        // The link's own warning (no gateway identity) aside, one line: the export's finding.
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.starts_with("warning: link west"))
            .collect();
        assert_eq!(lines.len(), 1, "{api}: {stderr}");
        assert!(
            lines[0].starts_with(
                "error: InvalidObject Endpoints default/db subsets[0].ports[1].name: port name \"sql\""
            ),
            "{api}: {stderr}"
        );
        let list: Value = serde_json::from_str(&stdout).expect("json");
        let names: Vec<&str> = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|i| i["kind"] == "Service")
            .map(|i| i["metadata"]["name"].as_str().expect("name"))
            .collect();
        assert_eq!(
            names,
            ["db-0-west", "db-1-west", "db-west", "web-west"],
            "{api}"
        );
    }
}

/// A headless export of `pods` named pods and `ports` ports, as `kubectl get -o json` prints it.
fn headless_export(pods: u32, ports: u32) -> String {
    let service_ports: Vec<Value> = (1..=ports)
        .map(|i| json!({"name": format!("p{i}"), "port": i}))
        .collect();
    let endpoint_ports: Vec<Value> = (1..=ports)
        .map(|i| json!({"name": format!("p{i}"), "port": i}))
        .collect();
    let addresses: Vec<Value> = (0..pods)
        .map(|i| {
            json!({
                "ip": std::net::Ipv4Addr::from(0x0a2a_0000 + i).to_string(),
                "hostname": format!("db-{i}"),
            })
        })
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "db", "namespace": "default",
                             "labels": {"mirror.linkerd.io/exported": "true"}},
                "spec": {"clusterIP": "None", "ports": service_ports},
            },
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": "db", "namespace": "default"},
                "subsets": [{"addresses": addresses, "ports": endpoint_ports}],
            },
        ],
    })
    .to_string()
}

/// Attack: 500 pods × 10 000 ports (~1 MB of input) took `svcmirror plan` to 3.1 GB RSS. Now the
/// export is refused before anything is built: no operation, exit 1, and the diagnostic says which
/// limit and which LinkSpec field raises it.
#[test]
fn plan_of_500_pods_times_10000_ports_says_which_limit_it_applied() {
    let input = headless_export(500, 10_000);
    assert!(input.len() > 500_000, "{} bytes", input.len());
    let (code, stdout, stderr) = run(&["plan", "-o", "json", "--target", "-"], Some(input));
    assert_eq!(code, Some(1), "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(plan["operations"].as_array().expect("operations").len(), 0);
    assert!(
        stderr.contains("error: LimitExceeded Service default/db spec.ports: 10000 ports exceeds")
            && stderr.contains("`limits.portsPerMirror`"),
        "{stderr}"
    );
}

/// Attack: 50 000 hostnames in one export planned 100 002 creates. Now 2 002 (the root, and 1 000
/// endpoint mirrors: the limit), exit 1, and the limit named.
#[test]
fn plan_of_50000_hostnames_is_bounded_by_the_endpoint_mirror_limit() {
    let (code, stdout, stderr) = run(
        &["plan", "-o", "json", "--target", "-"],
        Some(headless_export(50_000, 1)),
    );
    assert_eq!(code, Some(1), "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(
        plan["operations"].as_array().expect("operations").len(),
        2_002
    );
    assert!(
        stderr.contains("50000 named pods exceeds the limit of 1000")
            && stderr.contains("`limits.endpointMirrorsPerExport`"),
        "{stderr}"
    );
}

/// `n` ClusterIP exports `s0`…, each with a ready address.
fn clusterip_exports(n: u32) -> String {
    let items: Vec<Value> = (0..n)
        .flat_map(|i| {
            let meta = json!({"name": format!("s{i}"), "namespace": "default",
                              "labels": {"mirror.linkerd.io/exported": "true"}});
            [
                json!({"apiVersion": "v1", "kind": "Service", "metadata": meta,
                       "spec": {"ports": [{"name": "http", "port": 80}]}}),
                json!({"apiVersion": "v1", "kind": "Endpoints",
                       "metadata": {"name": format!("s{i}"), "namespace": "default"},
                       "subsets": [{"addresses": [{"ip": "10.42.0.9"}],
                                    "ports": [{"name": "http", "port": 80}]}]}),
            ]
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string()
}

/// A bare `LinkSpec` file (`--link`) setting only `limits.clusterIPsPerLink`, the flags
/// supplying the rest.
fn cluster_ip_budget_file(name: &str, budget: u32) -> String {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(
        &path,
        json!({"limits": {"clusterIPsPerLink": budget}}).to_string(),
    )
    .expect("write the link file");
    path.to_str().expect("path").to_owned()
}

/// A refusal the core cannot foresee — the source's Service range is full (a /29 holds 5
/// ClusterIPs) — is the refused export's diagnostic: exit 1 with the mirrors that fit, not exit 2
/// with nothing. (The link's own budget, a quarter of the range, would refuse them first: the
/// LinkSpec raises it past the range, as a user may.)
#[test]
fn a_full_service_range_is_a_diagnostic_per_refused_mirror_not_a_failed_run() {
    let link = cluster_ip_budget_file("budget-100.json", 100);
    let (code, stdout, stderr) = run(
        &[
            "translate",
            "-o",
            "json",
            "--service-cidr",
            "10.43.0.0/29",
            "--link",
            &link,
            "--target",
            "-",
        ],
        Some(clusterip_exports(7)),
    );
    assert_eq!(code, Some(1), "{stderr}");
    let list: Value = serde_json::from_str(&stdout).expect("json");
    let items = list["items"].as_array().expect("items");
    let services = items.iter().filter(|i| i["kind"] == "Service").count();
    let endpoints = items.iter().filter(|i| i["kind"] == "Endpoints").count();
    assert_eq!(
        (services, endpoints),
        (5, 5),
        "a refused Service gets no Endpoints"
    );
    let refused: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            l.starts_with("error: LimitExceeded Service default/") && l.contains("range is full")
        })
        .collect();
    assert_eq!(refused.len(), 2, "{stderr}");
}

/// Deliverable 8, as `plan -o json` shows it: a scale-down's endpoint-mirror deletes name the
/// root Endpoints update they wait for (`after`).
#[test]
fn plan_json_shows_that_scale_down_deletes_wait_for_the_root_update() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("limits-scale-down");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let (code, converged, stderr) = run(
        &["translate", "-o", "json", "--target", "-"],
        Some(headless_export(3, 1)),
    );
    assert_eq!(code, Some(0), "{stderr}");
    let source = dir.join("source.json");
    let target = dir.join("target.json");
    std::fs::write(&source, converged).expect("write");
    std::fs::write(&target, headless_export(1, 1)).expect("write");
    let (code, stdout, stderr) = run(
        &[
            "plan",
            "-o",
            "json",
            "--target",
            target.to_str().expect("path"),
            "--source",
            source.to_str().expect("path"),
        ],
        None,
    );
    assert_eq!(code, Some(0), "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).expect("json");
    let ops = plan["operations"].as_array().expect("operations");
    let root = ops
        .iter()
        .position(|op| op["action"] == "update" && op["name"] == "db-west")
        .expect("root update");
    let deletes: Vec<&Value> = ops.iter().filter(|op| op["action"] == "delete").collect();
    assert_eq!(deletes.len(), 4, "{ops:#?}");
    for op in deletes {
        assert_eq!(op["after"], json!([root]), "{op}");
    }
}

/// `exports` headless exports `s0`, `s1`, … in `default`, each of `pods` pods with hostnames
/// `s<i>-<j>` (distinct across exports, so their endpoint mirrors never collide).
fn headless_exports(exports: u32, pods: u32) -> String {
    let items: Vec<Value> = (0..exports)
        .flat_map(|i| {
            let addresses: Vec<Value> = (0..pods)
                .map(|j| {
                    json!({
                        "ip": std::net::Ipv4Addr::from(0x0a00_0000 + i * pods + j).to_string(),
                        "hostname": format!("s{i}-{j}"),
                    })
                })
                .collect();
            [
                json!({"apiVersion": "v1", "kind": "Service",
                       "metadata": {"name": format!("s{i}"), "namespace": "default",
                                    "labels": {"mirror.linkerd.io/exported": "true"}},
                       "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 80}]}}),
                json!({"apiVersion": "v1", "kind": "Endpoints",
                       "metadata": {"name": format!("s{i}"), "namespace": "default"},
                       "subsets": [{"addresses": addresses,
                                    "ports": [{"name": "http", "port": 80}]}]}),
            ]
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string()
}

/// SPEC §8 "ClusterIPs per link (a budget of the source's Service range)": with a /12 range (as
/// BENCHMARKS.md's 10k world runs), a link of 5 000 endpoint mirrors — more than the flat 4096
/// the budget used to be — is mirrored whole, no `LimitExceeded`; the same input with
/// `limits.clusterIPsPerLink: 4096` set in the LinkSpec is cut (an explicit limit always wins).
#[test]
fn a_slash_12_range_mirrors_more_than_4096_clusterips_unless_the_linkspec_says_4096() {
    let input = headless_exports(5, 1000);
    let args = [
        "plan",
        "-o",
        "json",
        "--service-cidr",
        "10.32.0.0/12",
        "--target",
        "-",
    ];
    let (code, stdout, stderr) = run(&args, Some(input.clone()));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("LimitExceeded"), "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).expect("json");
    // 5 × (root Service + root Endpoints + 1 000 × endpoint mirror Service and Endpoints).
    assert_eq!(
        plan["operations"].as_array().expect("operations").len(),
        5 * 2_002
    );

    let link = cluster_ip_budget_file("budget-4096.json", 4096);
    let mut with_link = args.to_vec();
    with_link.extend(["--link", &link]);
    let (code, stdout, stderr) = run(&with_link, Some(input));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("error: LimitExceeded Service default/s4: 5000 ClusterIPs exceeds the limit of 4096 (ClusterIPs per link; raise `limits.clusterIPsPerLink` in the LinkSpec)"),
        "{stderr}"
    );
    let plan: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(
        plan["operations"].as_array().expect("operations").len(),
        4 * 2_002
    );
}

/// Attack (issue 14): 70 000 hostnames exhausted the source's /16 Service range (65 534
/// ClusterIPs), then 1.8 M "range is full" requests followed. With the range's budget — a quarter
/// of a /16, 16 384 — the link takes 16 of the 70 exports of 1 000 pods; the other 54 are each a
/// diagnostic naming the limit, where its value came from, and the field that raises it.
#[test]
fn the_70000_hostname_attack_on_a_slash_16_is_cut_by_the_range_budget() {
    let (code, stdout, stderr) = run(
        &[
            "plan",
            "-o",
            "json",
            "--service-cidr",
            "10.43.0.0/16",
            "--target",
            "-",
        ],
        Some(headless_exports(70, 1000)),
    );
    assert_eq!(code, Some(1), "{stderr}");
    let refused: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: LimitExceeded Service default/s"))
        .collect();
    assert_eq!(refused.len(), 54, "{stderr}");
    for line in &refused {
        assert!(
            line.contains("exceeds the limit of 16384 (ClusterIPs per link, the default: a quarter of the source's Service range of 65536 addresses; raise `limits.clusterIPsPerLink` in the LinkSpec)"),
            "{line}"
        );
    }
    let plan: Value = serde_json::from_str(&stdout).expect("json");
    let ops = plan["operations"].as_array().expect("operations");
    let cluster_ips = ops
        .iter()
        .filter(|op| op["kind"] == "Service" && op["action"] == "create")
        .count()
        - 16; // the 16 roots are headless: no ClusterIP
    assert_eq!(cluster_ips, 16_000);
}
