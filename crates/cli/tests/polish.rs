//! Issue 12, "CLI rough edges": each item as the user met it, run through the binary.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command as Std, Stdio};

use assert_cmd::Command;

fn svcmirror() -> Command {
    Command::cargo_bin("svcmirror").expect("binary built")
}

const WEST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/west.yaml");
const LINK: [&str; 5] = [
    "--cluster-name",
    "west",
    "--gateway-address",
    "172.18.0.4",
    "--enable-headless-services",
];

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf8"),
        String::from_utf8(out.stderr).expect("utf8"),
    )
}

fn scratch(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("svcmirror-polish-{}-{name}", std::process::id()));
    std::fs::write(&path, text).expect("write");
    path
}

/// `svcmirror --help` said "translate, plan and demo": it names every command, in its list and in
/// its first line (which had fallen behind again when `link` and `local` were added).
#[test]
fn help_lists_every_command() {
    let (code, out, _) = run(svcmirror().arg("--help"));
    assert_eq!(code, 0);
    let about = out.lines().next().unwrap_or_default();
    for command in [
        "translate",
        "plan",
        "explain",
        "demo",
        "simulate",
        "run",
        "local",
        "check",
        "link",
        "unlink",
    ] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(command)),
            "{command} missing from --help:\n{out}"
        );
        assert!(
            about.contains(command),
            "{command} missing from --help's first line: {about}"
        );
    }
}

/// `svcmirror translate … | head` exited 2 ("Broken pipe"), the code of unusable input: a reader
/// that leaves is not an error. The output is larger than a pipe's buffer, so the write fails.
#[test]
fn a_closed_pipe_exits_0_quietly() {
    let mut services = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..2000 {
        services.push_str(&format!(
            "- apiVersion: v1\n  kind: Service\n  metadata: {{name: web-{i}, namespace: default, \
             labels: {{mirror.linkerd.io/exported: \"true\"}}}}\n  spec: {{ports: [{{port: 80}}]}}\n"
        ));
    }
    let target = scratch("big.yaml", &services);
    let mut child = Std::new(env!("CARGO_BIN_EXE_svcmirror"))
        .arg("translate")
        .arg("--target")
        .arg(&target)
        .args(LINK)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout);
    let out = child.wait_with_output().expect("exits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    let _ = std::fs::remove_file(target);
}

/// `--timings` was accepted where it did nothing (simulate, explain).
#[test]
fn timings_only_where_it_works() {
    let (code, _, err) = run(svcmirror()
        .args(["simulate", "--target", WEST, "--timings"])
        .args(LINK));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--timings"), "{err}");
    let (code, _, err) = run(svcmirror()
        .args(["plan", "--target", WEST, "--timings"])
        .args(LINK));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("timings: "), "{err}");
}

/// `--fault-rate 1.0` exited 2 and `-0.1` was parsed as a flag.
#[test]
fn fault_rate_accepts_one_and_refuses_negatives_clearly() {
    let (code, out, err) = run(svcmirror()
        .args([
            "simulate",
            "--target",
            WEST,
            "--fault-rate",
            "1.0",
            "-o",
            "json",
        ])
        .args(LINK));
    assert_eq!(
        code, 1,
        "every request fails: not converged, but not unusable input\n{err}"
    );
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(json["stats"]["converged"], false);
    let (code, _, err) = run(svcmirror()
        .args(["simulate", "--target", WEST, "--fault-rate", "-0.1"])
        .args(LINK));
    assert_eq!(code, 2);
    assert!(
        err.contains("--fault-rate") && err.contains("outside 0.0–1.0"),
        "{err}"
    );
}

/// `run` flags: `--resync-period 1ms` was accepted, `1m30s` and `--metrics-addr :9990` refused.
/// Parsed flags get as far as reading the (missing) kubeconfig.
#[test]
fn run_durations_and_listen_addresses() {
    let base = [
        "run",
        "--target-kubeconfig",
        "/nonexistent/west.kubeconfig",
        "--cluster-name",
        "west",
        "--gateway-address",
        "172.18.0.4",
    ];
    let (code, _, err) = run(svcmirror().args(base).args(["--resync-period", "1ms"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("--resync-period") && err.contains("minimum of 10s"),
        "{err}"
    );
    let (code, _, err) =
        run(svcmirror()
            .args(base)
            .args(["--resync-period", "1m30s", "--metrics-addr", ":9990"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("reading kubeconfig /nonexistent/west.kubeconfig"),
        "{err}"
    );
}

/// Label keys like `'Bad Key'` were accepted.
#[test]
fn invalid_label_keys_are_refused_naming_the_flag() {
    let (code, out, err) = run(svcmirror()
        .args(["translate", "--target", WEST, "--exclude-label", "Bad Key"])
        .args(LINK));
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("--exclude-label") && err.contains("Bad Key"),
        "{err}"
    );
    let (code, _, err) = run(svcmirror()
        .args([
            "translate",
            "--target",
            WEST,
            "--exclude-annotation",
            "example.com/*",
        ])
        .args(LINK));
    assert_eq!(code, 0, "{err}");
}

/// `plan` always exited 0, also with pending changes; `--exit-code` exits 1 like `kubectl diff`,
/// and 0 once the source holds what translate prints.
#[test]
fn plan_exit_code_says_whether_changes_are_pending() {
    let (code, _, err) = run(svcmirror()
        .args(["plan", "--target", WEST, "--exit-code"])
        .args(LINK));
    assert_eq!(code, 1, "an empty source: changes pending\n{err}");
    let (code, _, _) = run(svcmirror().args(["plan", "--target", WEST]).args(LINK));
    assert_eq!(
        code, 0,
        "without --exit-code, pending changes are not a failure"
    );
    let (_, converged, _) = run(svcmirror().args(["translate", "--target", WEST]).args(LINK));
    let source = scratch("converged.yaml", &converged);
    let (code, out, err) = run(svcmirror()
        .args(["plan", "--target", WEST, "--exit-code", "--source"])
        .arg(&source)
        .args(LINK));
    assert_eq!(code, 0, "converged: nothing to apply\n{out}{err}");
    let _ = std::fs::remove_file(source);
}

/// `translate` printed uid, resourceVersion and the in-memory ClusterIPs, which `kubectl apply`
/// refuses; `--for-apply` leaves out every server-set field (a headless `clusterIP: None` stays).
#[test]
fn translate_for_apply_leaves_out_server_set_fields() {
    let (code, out, err) = run(svcmirror()
        .args(["translate", "--target", WEST, "-o", "json", "--for-apply"])
        .args(LINK));
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let items = list["items"].as_array().expect("items");
    assert!(items.len() >= 8, "{out}");
    for item in items {
        let meta = &item["metadata"];
        for field in ["uid", "resourceVersion", "creationTimestamp"] {
            assert!(meta.get(field).is_none(), "{field} in {item}");
        }
        if item["kind"] == "Service" {
            let ip = &item["spec"]["clusterIP"];
            assert!(ip.is_null() || ip == "None", "{item}");
            assert!(
                item["spec"].get("clusterIPs").is_none_or(|ips| ips
                    .as_array()
                    .is_some_and(|ips| ips.iter().all(|ip| ip == "None"))),
                "{item}"
            );
        }
    }
    assert!(
        items.iter().any(|i| i["spec"]["clusterIP"] == "None"),
        "the headless root mirror keeps clusterIP: None"
    );
    // Without the flag, the server-set fields are there (what the converged source holds).
    let (_, plain, _) = run(svcmirror()
        .args(["translate", "--target", WEST, "-o", "json"])
        .args(LINK));
    assert!(plain.contains("\"resourceVersion\""));
}

/// `kubectl get all -o yaml` has no Endpoints at all: said on stderr, with the command to use.
#[test]
fn exported_services_without_any_endpoints_are_warned_about() {
    let target = scratch(
        "no-endpoints.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default, labels: \
         {mirror.linkerd.io/exported: \"true\"}}\nspec: {ports: [{port: 80}]}\n",
    );
    let (code, _, err) = run(svcmirror()
        .arg("translate")
        .arg("--target")
        .arg(&target)
        .args(LINK));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("but no Endpoints or EndpointSlices")
            && err.contains("kubectl get ns,svc,endpoints,endpointslices -A -o yaml"),
        "{err}"
    );
    let (_, _, err) = run(svcmirror().args(["translate", "--target", WEST]).args(LINK));
    assert!(!err.contains("no Endpoints at all"), "{err}");
    let _ = std::fs::remove_file(target);
}
