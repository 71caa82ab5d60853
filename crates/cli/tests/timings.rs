//! `--timings` and `--service-cidr` on `translate` and `plan`: one stderr line with the phases,
//! output unchanged; mirrors allocated from the given CIDR.

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

/// The values of `timings: k=<ms>ms …`, in order; `None` when the line is malformed.
fn phases(line: &str) -> Option<Vec<(String, f64)>> {
    line.strip_prefix("timings: ")?
        .split(' ')
        .map(|field| {
            let (name, value) = field.split_once('=')?;
            let ms: f64 = value.strip_suffix("ms")?.parse().ok()?;
            (ms >= 0.0).then(|| (name.to_owned(), ms))
        })
        .collect()
}

fn timing_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("timings:"))
        .collect()
}

#[test]
fn translate_and_plan_print_one_timings_line_and_the_same_output() {
    let target = data("clusterip.yaml");
    for (command, names) in [
        (
            "translate",
            &["parse", "translate", "plan", "render", "apply"][..],
        ),
        ("plan", &["parse", "translate", "plan", "render"][..]),
    ] {
        let mut plain = vec![command, "--target", &target];
        plain.extend(LINK);
        let (code, out, err) = run(&plain);
        assert!(timing_lines(&err).is_empty(), "{err}");

        let mut timed = plain.clone();
        timed.push("--timings");
        let (timed_code, timed_out, timed_err) = run(&timed);
        assert_eq!(
            (timed_code, &timed_out),
            (code, &out),
            "{command}: output changed"
        );
        let lines = timing_lines(&timed_err);
        assert_eq!(lines.len(), 1, "{command}: {timed_err}");
        let found = phases(lines[0]).unwrap_or_else(|| panic!("malformed: {}", lines[0]));
        let found: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(found, names, "{command}");
    }
}

#[test]
fn mirrors_get_cluster_ips_from_the_service_cidr() {
    let target = data("clusterip.yaml");
    let mut args = vec!["translate", "--target", &target, "-o", "json"];
    args.extend(LINK);
    args.extend(["--service-cidr", "10.96.0.0/12"]);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    let ips: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|o| o["kind"] == "Service")
        .filter_map(|o| o["spec"]["clusterIP"].as_str())
        .collect();
    assert!(!ips.is_empty(), "{out}");
    for ip in ips {
        let ip: std::net::Ipv4Addr = ip.parse().expect("an IPv4 ClusterIP");
        let [a, b, _, _] = ip.octets();
        assert!(a == 10 && b & 0xf0 == 0x60, "{ip} is outside 10.96.0.0/12");
    }
}
