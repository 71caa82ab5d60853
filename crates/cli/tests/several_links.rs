//! SPEC §9 with several `--link` files on one `translate` / `plan` / `simulate` (issue 11
//! deliverable 5): each `--link` pairs with the `--target` next to it; all links translate
//! against one source; each writes its own mirrors and its own entry of the federated Services
//! (the multi-writer rule), so they converge on one `<name>-federated` listing every member —
//! Linkerd's federated scenarios "created", "joined" and "left" (multicluster/service-mirror,
//! b24cd4059) — without flapping; a mirror name two links want is reported, never overwritten.

use assert_cmd::Command;

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

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

/// `--link west.yaml --target <west> --link north.yaml --target <north>`, then `extra`.
fn two_links(command: &str, west: &str, north: &str, extra: &[&str]) -> (i32, String, String) {
    let (lw, ln, tw, tn) = (
        data("link-west.yaml"),
        data("link-north.yaml"),
        data(west),
        data(north),
    );
    let args = [
        &[
            command, "--link", &lw, "--target", &tw, "--link", &ln, "--target", &tn,
        ][..],
        extra,
    ]
    .concat();
    run(&args)
}

/// The objects of a `kind: List` in JSON.
fn items(json: &str) -> Vec<serde_json::Value> {
    let list: serde_json::Value = serde_json::from_str(json).expect("JSON");
    list["items"].as_array().expect("items").clone()
}

fn named<'a>(items: &'a [serde_json::Value], kind: &str, name: &str) -> Vec<&'a serde_json::Value> {
    items
        .iter()
        .filter(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .collect()
}

/// `multicluster.linkerd.io/remote-discovery` of the one `web-federated` Service.
fn members(items: &[serde_json::Value]) -> String {
    let fed = named(items, "Service", "web-federated");
    assert_eq!(fed.len(), 1, "one web-federated: {fed:?}");
    fed[0]["metadata"]["annotations"]["multicluster.linkerd.io/remote-discovery"]
        .as_str()
        .expect("members")
        .to_owned()
}

/// A temp file holding `text`.
fn scratch(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("svcmirror-several-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_string_lossy().into_owned()
}

/// Linkerd "federated service created": one link's member → `web-federated` listing it; the
/// other link mirrors its own export beside it.
#[test]
fn created_one_member_of_two_links() {
    let (code, out, err) = two_links(
        "translate",
        "federated.yaml",
        "federated-left.yaml",
        &["-o", "json"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    let items = items(&out);
    assert_eq!(members(&items), "web@west");
    assert_eq!(
        named(&items, "Service", "db-north").len(),
        1,
        "north's mirror"
    );
}

/// Linkerd "federated service joined": both links' members → one `web-federated` listing both,
/// whatever the order of the links; `plan` from an empty source creates it once.
#[test]
fn joined_both_members_in_one_federated_service() {
    let (code, out, err) = two_links(
        "translate",
        "federated.yaml",
        "federated-north.yaml",
        &["-o", "json"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(members(&items(&out)), "web@north,web@west");
    // The order of the links changes nothing.
    let (lw, ln, tw, tn) = (
        data("link-west.yaml"),
        data("link-north.yaml"),
        data("federated.yaml"),
        data("federated-north.yaml"),
    );
    let (code, swapped, err) = run(&[
        "translate",
        "--link",
        &ln,
        "--target",
        &tn,
        "--link",
        &lw,
        "--target",
        &tw,
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(items(&swapped), items(&out), "the same converged source");

    let (code, plan, err) = two_links(
        "plan",
        "federated.yaml",
        "federated-north.yaml",
        &["-o", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&plan).expect("JSON");
    let writes: Vec<&serde_json::Value> = plan["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .filter(|o| o["name"] == "web-federated")
        .collect();
    assert_eq!(writes.len(), 1, "one write of web-federated: {plan}");
    assert_eq!(writes[0]["action"], "create");
}

/// "joined" against a source where west's controller already wrote `web@west`: the plan is one
/// update of `web-federated`, adding north's entry and keeping west's.
#[test]
fn joined_a_federated_service_another_link_created() {
    // The source as west alone left it.
    let (code, west_only, err) = run(&[
        "translate",
        "--link",
        &data("link-west.yaml"),
        "--target",
        &data("federated.yaml"),
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let source = scratch("joined-source.json", &west_only);
    let (code, plan, err) = two_links(
        "plan",
        "federated.yaml",
        "federated-north.yaml",
        &["--source", &source],
    );
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("joined_plan_text", plan);
    let (code, out, err) = two_links(
        "translate",
        "federated.yaml",
        "federated-north.yaml",
        &["--source", &source, "-o", "json"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(members(&items(&out)), "web@north,web@west");
}

/// Linkerd "federated service left": north's member leaves (its label removed) → the entry
/// goes, west's stays, through `plan` (an update) and `translate`.
#[test]
fn left_one_member_leaves_the_federated_service() {
    let (code, both, err) = two_links(
        "translate",
        "federated.yaml",
        "federated-north.yaml",
        &["-o", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let source = scratch("left-source.json", &both);
    let (code, out, err) = two_links(
        "translate",
        "federated.yaml",
        "federated-left.yaml",
        &["--source", &source, "-o", "json"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(members(&items(&out)), "web@west");
    let (code, plan, err) = two_links(
        "plan",
        "federated.yaml",
        "federated-left.yaml",
        &["--source", &source, "-o", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&plan).expect("JSON");
    let fed: Vec<&serde_json::Value> = plan["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .filter(|o| o["name"] == "web-federated")
        .collect();
    assert_eq!(fed.len(), 1, "{plan}");
    assert_eq!(fed[0]["action"], "update", "{plan}");

    // The last member leaves too: the federated Service lists nobody and is deleted.
    let (code, out, err) = two_links(
        "translate",
        "federated-left.yaml",
        "federated-left.yaml",
        &["--source", &source, "-o", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let items = items(&out);
    assert!(
        named(&items, "Service", "web-federated").is_empty(),
        "{out}"
    );
    assert_eq!(
        named(&items, "Service", "db-west").len(),
        1,
        "the mirrors stay"
    );
}

/// `simulate` runs one driver per link on one source: they converge on one `web-federated`
/// listing both, and a further resync of every driver writes nothing (no flapping).
#[test]
fn simulate_two_links_converges_without_flapping() {
    let (code, out, err) = two_links(
        "simulate",
        "federated.yaml",
        "federated-north.yaml",
        &["-o", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let items = json["objects"]["items"].as_array().expect("items").clone();
    assert_eq!(members(&items), "web@north,web@west");
    assert_eq!(json["stats"]["converged"], true, "{out}");
    assert_eq!(json["stats"]["writes_after_resync"], 0, "{out}");
    // Both links export default/web: conditions are per link.
    let conditions = json["conditions"].as_object().expect("conditions");
    assert!(
        conditions.contains_key("default/web@west") && conditions.contains_key("default/web@north"),
        "{conditions:?}"
    );
    // Under injected faults too.
    let (code, out, err) = two_links(
        "simulate",
        "federated.yaml",
        "federated-north.yaml",
        &["-o", "json", "--fault-rate", "0.3", "--seed", "7"],
    );
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let items = json["objects"]["items"].as_array().expect("items").clone();
    assert_eq!(members(&items), "web@north,web@west");
    assert_eq!(json["stats"]["writes_after_resync"], 0, "{out}");
}

/// SPEC §3/§7 cross-link names: west's `payments-us` and us-west's `payments` both want the
/// mirror `payments-us-west`. The earlier `--link` keeps it; the later one gets NameConflict
/// (exit 1) on a stderr line naming its link and file — never an overwrite.
#[test]
fn a_name_two_links_want_is_reported_not_overwritten() {
    let (lw, lu, tw, tu) = (
        data("link-west.yaml"),
        data("link-us-west.yaml"),
        data("clash-west.yaml"),
        data("clash-us-west.yaml"),
    );
    let args = [
        "--link", &lw, "--target", &tw, "--link", &lu, "--target", &tu,
    ];
    let (code, out, err) = run(&[&["translate"][..], &args, &["-o", "json"]].concat());
    assert_eq!(code, 1, "{err}");
    let items = items(&out);
    let mirror = named(&items, "Service", "payments-us-west");
    assert_eq!(mirror.len(), 1);
    assert_eq!(
        mirror[0]["metadata"]["labels"]["mirror.linkerd.io/cluster-name"], "west",
        "the first link keeps it"
    );
    // Foreseen from the names alone (the core's cross-link rule), then found.
    assert!(
        err.contains("the cluster names of two links on this source overlap"),
        "{err}"
    );
    let clash = format!("link us-west (--link {lu}): error: NameConflict");
    assert!(
        err.lines()
            .any(|l| l.starts_with(&clash) && l.contains("payments-us-west")),
        "{err}"
    );

    let (code, plan, err) = run(&[&["plan"][..], &args, &["-o", "json"]].concat());
    assert_eq!(code, 1, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&plan).expect("JSON");
    let writes = plan["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .filter(|o| o["name"] == "payments-us-west" && o["kind"] == "Service")
        .count();
    assert_eq!(writes, 1, "written once: {plan}");
    assert!(
        err.lines()
            .any(|l| l.starts_with(&clash) && l.contains(&format!("link west (--link {lw})"))),
        "{err}"
    );
}

/// Usage errors (exit 2, stdout empty), each naming what to fix: two links of one cluster
/// name, a `--target` that is not next to its `--link`, `--cluster-name` beside several files,
/// a bad link file among several, `explain` and `run` with several links.
#[test]
fn several_links_usage_errors_name_the_files() {
    let (lw, ln, tw, tn) = (
        data("link-west.yaml"),
        data("link-north.yaml"),
        data("federated.yaml"),
        data("federated-north.yaml"),
    );
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec![
                "translate",
                "--link",
                &lw,
                "--target",
                &tw,
                "--link",
                &lw,
                "--target",
                &tn,
            ],
            format!("--link {lw} and --link {lw} both name cluster `west`"),
        ),
        (
            vec![
                "plan", "--link", &lw, "--link", &ln, "--target", &tw, "--target", &tn,
            ],
            "give each --link its own --target".to_owned(),
        ),
        (
            vec![
                "translate",
                "--link",
                &lw,
                "--target",
                &tw,
                "--link",
                &ln,
                "--target",
                &tn,
                "--cluster-name",
                "west",
            ],
            "--cluster-name names one link".to_owned(),
        ),
        (
            vec![
                "simulate", "--link", &lw, "--target", &tw, "--link", &tn, "--target", &tn,
            ],
            format!("--link {tn}"),
        ),
        (
            vec![
                "explain",
                "default/web",
                "--link",
                &lw,
                "--target",
                &tw,
                "--link",
                &ln,
                "--target",
                &tn,
            ],
            "explain takes one link".to_owned(),
        ),
        (
            vec![
                "run",
                "--link",
                &lw,
                "--link",
                &ln,
                "--target-kubeconfig",
                "k",
            ],
            "run one `svcmirror run` per link".to_owned(),
        ),
    ];
    for (args, expected) in cases {
        let (code, out, err) = run(&args);
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}: {err}");
        assert!(err.contains(&expected), "{args:?}: {err}");
    }
}
