//! The `svcmirror` command as a user runs it: exit codes 0/1/2, stdout empty on unusable input, the
//! demo, and the shapes of translate and plan output.

use assert_cmd::Command;

fn svcmirror() -> Command {
    Command::cargo_bin("svcmirror").expect("binary built")
}

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

const LINK: [&str; 4] = ["--cluster-name", "west", "--gateway-address", "172.18.0.4"];

fn stdout_of(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf8"),
        String::from_utf8(out.stderr).expect("utf8"),
    )
}

#[test]
fn demo_prints_the_seed_walkthrough_east_view() {
    let (code, out, err) = stdout_of(svcmirror().arg("demo"));
    assert_eq!(code, 0, "{err}");
    // West's endpoints, east's services table with real allocated IPs, the root Endpoints, the path.
    assert!(out.contains("hostname: nginx-set-0"), "{out}");
    let table_row = out
        .lines()
        .find(|l| l.starts_with("nginx-set-0-west"))
        .expect("endpoint mirror row");
    let cols: Vec<&str> = table_row.split_whitespace().collect();
    assert_eq!(cols[1], "ClusterIP");
    assert!(cols[2].starts_with("10.43."), "{table_row}");
    assert_eq!(&cols[3..], ["<none>", "80/TCP"]);
    let root_row = out
        .lines()
        .find(|l| l.starts_with("nginx-svc-west"))
        .expect("root row");
    assert!(root_row.contains(" None "), "{root_row}");
    let root_endpoints = out
        .split("get endpoints nginx-svc-west")
        .nth(1)
        .expect("root Endpoints section");
    assert!(
        root_endpoints.contains(cols[2]),
        "root Endpoints maps the hostname to the endpoint mirror's ClusterIP"
    );
    assert!(out.contains("nginx-set-0.nginx-svc-west.default.svc.cluster.local"));
    assert!(out.contains("172.18.0.4:4143"));
    assert!(out.contains("nginx-set-0.nginx-svc.default.svc.cluster.local"));
    assert!(out.contains("10.42.0.31"));
}

#[test]
fn translate_clusterip_export_exits_0_and_skips_pods() {
    let (code, out, err) = stdout_of(
        svcmirror()
            .args(["translate", "--target", &data("clusterip.yaml")])
            .args(LINK),
    );
    assert_eq!(code, 0, "{err}");
    // SPEC §2: the only stderr line is the warning about the link's missing gateway identity.
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("warning: link west: gatewayIdentity is empty"),
        "{err}"
    );
    assert!(out.starts_with("apiVersion: v1\nkind: List\n"), "{out}");
    assert!(out.contains("name: web-west"));
    assert!(out.contains("port: 4143"));
    assert!(!out.contains("web-abc"), "Pods are skipped");
}

#[test]
fn translate_json_output_is_a_list() {
    let (code, out, _) = stdout_of(
        svcmirror()
            .args([
                "translate",
                "-o",
                "json",
                "--target",
                &data("clusterip.yaml"),
            ])
            .args(LINK),
    );
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(list["kind"], "List");
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .collect();
    assert!(names.contains(&"web-west"), "{names:?}");
}

#[test]
fn portless_headless_exits_1_and_mirrors_the_rest() {
    let (code, out, err) = stdout_of(
        svcmirror()
            .args([
                "translate",
                "--enable-headless-services",
                "--target",
                &data("portless.yaml"),
            ])
            .args(LINK),
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("name: web-west"),
        "everything else is mirrored"
    );
    assert!(!out.contains("db-west"));
    let line = err
        .lines()
        .find(|l| l.contains("NoPorts"))
        .expect("a NoPorts line");
    assert!(
        line.contains("default/db") && line.contains("spec.ports"),
        "{line}"
    );
}

#[test]
fn wrongly_typed_field_exits_1_names_the_field_and_keeps_the_rest() {
    let (code, out, err) = stdout_of(
        svcmirror()
            .args(["translate", "--target", &data("bad-field.yaml")])
            .args(LINK),
    );
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("name: api-west"));
    assert!(!out.contains("name: web-west"));
    let line = err
        .lines()
        .find(|l| l.contains("InvalidObject"))
        .expect("diagnostic");
    assert!(
        line.contains("default/web") && line.contains("spec.ports[0].port"),
        "{line}"
    );
}

#[test]
fn unusable_inputs_exit_2_with_empty_stdout_and_name_the_file() {
    for file in [
        "broken.yaml",
        "scalar.yaml",
        "empty.yaml",
        "nokind.yaml",
        "missing.yaml",
    ] {
        let path = data(file);
        let (code, out, err) = stdout_of(
            svcmirror()
                .args(["translate", "--target", &path])
                .args(LINK),
        );
        assert_eq!(code, 2, "{file}: {err}");
        assert!(out.is_empty(), "{file}: stdout must stay empty, got {out}");
        assert!(err.contains(file), "{file}: stderr names the file: {err}");
    }
    // A syntax error also names the position.
    let (_, _, err) = stdout_of(
        svcmirror()
            .args(["translate", "--target", &data("broken.yaml")])
            .args(LINK),
    );
    assert!(err.contains(":6:") || err.contains("line 6"), "{err}");
}

#[test]
fn invalid_cluster_name_exits_2() {
    let (code, out, err) = stdout_of(svcmirror().args([
        "translate",
        "--target",
        &data("clusterip.yaml"),
        "--cluster-name",
        "West_1",
        "--gateway-address",
        "172.18.0.4",
    ]));
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("West_1"), "{err}");
}

#[test]
fn plan_json_lists_operations() {
    let (code, out, err) = stdout_of(
        svcmirror()
            .args(["plan", "-o", "json", "--target", &data("clusterip.yaml")])
            .args(LINK),
    );
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).expect("json");
    let ops: Vec<String> = plan["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|o| {
            format!(
                "{} {} {}/{}",
                o["action"], o["kind"], o["namespace"], o["name"]
            )
            .replace('"', "")
        })
        .collect();
    assert_eq!(
        ops,
        [
            "create Service default/web-west",
            "create Endpoints default/web-west"
        ]
    );
    assert_eq!(plan["diagnostics"].as_array().map(Vec::len), Some(0));
}

#[test]
fn plan_against_converged_source_has_no_changes() {
    let translated = svcmirror()
        .args(["translate", "--target", &data("clusterip.yaml")])
        .args(LINK)
        .output()
        .expect("runs");
    let dir = std::env::temp_dir().join(format!("svcmirror-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let source = dir.join("east.yaml");
    std::fs::write(&source, &translated.stdout).expect("write");
    let (code, out, err) = stdout_of(
        svcmirror()
            .args(["plan", "--target", &data("clusterip.yaml"), "--source"])
            .arg(&source)
            .args(LINK),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("No changes"), "{out}");

    // A different gateway is one update per mirror Endpoints, shown as a diff.
    let (code, out, _) = stdout_of(
        svcmirror()
            .args(["plan", "--target", &data("clusterip.yaml"), "--source"])
            .arg(&source)
            .args(["--cluster-name", "west", "--gateway-address", "172.18.0.9"]),
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("~ update Endpoints default/web-west (subsets)"),
        "{out}"
    );
    assert!(out.contains("172.18.0.9"), "{out}");
    assert!(
        out.contains("Plan: 0 to create, 1 to update, 0 to delete."),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn stdin_is_read_with_dash() {
    let input = std::fs::read(data("clusterip.yaml")).expect("read");
    let (code, out, _) = stdout_of(
        svcmirror()
            .args(["translate", "--target", "-"])
            .args(LINK)
            .write_stdin(input),
    );
    assert_eq!(code, 0);
    assert!(out.contains("web-west"));
}

fn simulate_json(extra: &[&str]) -> serde_json::Value {
    let demo = format!("{}/demo/west.yaml", env!("CARGO_MANIFEST_DIR"));
    let (code, out, err) = stdout_of(
        svcmirror()
            .args([
                "simulate",
                "-o",
                "json",
                "--enable-headless-services",
                "--target",
                &demo,
            ])
            .args(LINK)
            .args(extra),
    );
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("json")
}

/// The objects without what the server sets differently from run to run.
fn comparable(sim: &serde_json::Value) -> Vec<serde_json::Value> {
    let mut items = sim["objects"]["items"].as_array().expect("items").clone();
    for item in &mut items {
        let meta = item["metadata"].as_object_mut().expect("metadata");
        meta.remove("uid");
        meta.remove("resourceVersion");
    }
    items
}

#[test]
fn simulate_seed_costs_the_minimum_and_a_resync_writes_nothing() {
    let sim = simulate_json(&[]);
    let stats = &sim["stats"];
    // 3 endpoint mirror Services + their 3 Endpoints + root Service + root Endpoints, then one
    // update of the root Endpoints once the ClusterIPs are allocated.
    assert_eq!(stats["writes"], 9, "{stats}");
    assert_eq!(stats["writes_after_resync"], 0);
    assert_eq!(stats["failed_requests"], 0);
    assert_eq!(stats["converged"], true);
    // SPEC §12: the headless seed is reported healthy (Linkerd reports it as failed).
    assert_eq!(
        sim["conditions"]["default/nginx-svc"][1],
        serde_json::json!({"type": "Mirrored", "status": "True", "reason": "Mirrored",
            "message": "headless root mirror nginx-svc-west with 3 endpoint mirror(s) is in place"}),
        "{}",
        sim["conditions"]
    );
}

#[test]
fn simulate_under_faults_converges_to_the_fault_free_state() {
    let clean = comparable(&simulate_json(&[]));
    for seed in ["1", "2", "3"] {
        let sim = simulate_json(&["--fault-rate", "0.3", "--seed", seed]);
        assert_eq!(sim["stats"]["converged"], true, "seed {seed}");
        assert_eq!(sim["stats"]["writes_after_resync"], 0, "seed {seed}");
        assert_eq!(comparable(&sim), clean, "seed {seed}");
    }
    // The faults really happened for some seed.
    let failed: u64 = ["1", "2", "3"]
        .iter()
        .map(|seed| {
            simulate_json(&["--fault-rate", "0.3", "--seed", seed])["stats"]["failed_requests"]
                .as_u64()
                .expect("count")
        })
        .sum();
    assert!(failed > 0);
}

/// Runs `svcmirror <args> <LINK>` (with `stdin` when given): the exit code, stdout and stderr.
fn run_with(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut cmd = svcmirror();
    cmd.args(args).args(LINK);
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    stdout_of(&mut cmd)
}

/// A refusal of unusable input: exit 2, stdout empty, stderr containing each of `expected`.
fn assert_refused(args: &[&str], stdin: Option<&str>, expected: &[&str]) {
    let (code, out, err) = run_with(args, stdin);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    for text in expected {
        assert!(err.contains(text), "{text:?} not in {err}");
    }
}

/// SPEC §8 limits: an input over the size limit exits 2 naming the file, the limit and the flag
/// that raises it; with the limit raised, the same input is read.
#[test]
fn input_over_the_size_limit_names_the_flag_that_raises_it() {
    let target = data("clusterip.yaml");
    let size = std::fs::metadata(&target).expect("clusterip.yaml").len();
    let small = (size - 1).to_string();
    let over = [
        "translate",
        "--target",
        &target,
        "--max-input-bytes",
        &small,
    ];
    assert_refused(
        &over,
        None,
        &[
            &format!("input larger than the limit of {small} bytes"),
            "--max-input-bytes",
            "clusterip.yaml",
        ],
    );
    let exact = size.to_string();
    let (code, out, err) = run_with(
        &[
            "translate",
            "--target",
            &target,
            "--max-input-bytes",
            &exact,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("name: web-west"), "{out}");
}

/// SPEC §8 limits: more objects than the limit exits 2 naming the flag that raises it.
#[test]
fn input_over_the_object_limit_names_the_flag_that_raises_it() {
    let target = data("clusterip.yaml");
    // A YAML stream: its documents count against the limit.
    assert_refused(
        &["plan", "--target", &target, "--max-input-objects", "1"],
        None,
        &["more than 1 documents", "--max-input-objects"],
    );
    // A JSON List: its items do.
    let list = r#"{"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"}}]}"#;
    assert_refused(
        &["plan", "--target", "-", "--max-input-objects", "1"],
        Some(list),
        &["more than the limit of 1 objects", "--max-input-objects"],
    );
    let (code, _, err) = run_with(
        &["plan", "--target", &target, "--max-input-objects", "3"],
        None,
    );
    assert_eq!(code, 0, "{err}");
}
