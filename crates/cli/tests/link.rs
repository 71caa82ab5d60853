//! SPEC §2, the link's one front door, as a user meets it: `--link FILE` holding a Linkerd `Link`
//! exactly as `linkerd multicluster link` prints it, flags over it, gateway names, gateway-less
//! links (Linkerd's `noGatewayLink` fixture), the gateway-identity warning; and SPEC §12,
//! EndpointSlices as the target's endpoints.

use assert_cmd::Command;

fn svcmirror() -> Command {
    Command::cargo_bin("svcmirror").expect("binary built")
}

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// What `linkerd-mc-link-west.yaml`'s Link says, as flags.
const IDENTITY: &str =
    "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local";

fn flags() -> Vec<&'static str> {
    vec![
        "--cluster-name",
        "west",
        "--gateway-address",
        "172.18.0.4",
        "--gateway-port",
        "4143",
        "--gateway-identity",
        IDENTITY,
    ]
}

/// `svcmirror <args>`: (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = svcmirror().args(args).output().expect("runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf8"),
        String::from_utf8(out.stderr).expect("utf8"),
    )
}

/// `svcmirror <command> --target <target> <link args>`, which must exit 0: its stdout.
fn output_of(command: &str, target: &str, link: &[&str]) -> String {
    let target = data(target);
    let mut args = vec![command, "--target", &target, "--enable-headless-services"];
    args.extend_from_slice(link);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{command} {link:?}: {err}");
    out
}

/// SPEC §2: the Link `linkerd multicluster link` prints (among its Secrets and service-mirror
/// chart) drives `translate`, `plan` and `simulate` unchanged, and gives what the same link as flags gives.
#[test]
fn linkerd_link_manifest_drives_translate_and_plan_like_flags() {
    let file = data("linkerd-mc-link-west.yaml");
    for command in ["translate", "plan", "simulate"] {
        let from_file = output_of(command, "world-endpoints.yaml", &["--link", &file]);
        let from_flags = output_of(command, "world-endpoints.yaml", &flags());
        assert_eq!(from_file, from_flags, "{command}");
    }
    let translated = output_of("translate", "world-endpoints.yaml", &["--link", &file]);
    assert!(translated.contains(&format!(
        "mirror.linkerd.io/remote-gateway-identity: {IDENTITY}"
    )));
    assert!(
        translated.contains("name: nginx-set-0-west"),
        "{translated}"
    );
}

/// SPEC §2: a flag given beside `--link` overrides that field only.
#[test]
fn flag_overrides_the_link_files_field() {
    let file = data("linkerd-mc-link-west.yaml");
    let overridden = output_of(
        "plan",
        "world-endpoints.yaml",
        &["--link", &file, "--gateway-port", "4180"],
    );
    assert!(overridden.contains("172.18.0.4:4180"), "{overridden}");
    assert!(!overridden.contains(":4143"), "{overridden}");
    let mut by_flags = flags();
    by_flags[5] = "4180";
    assert_eq!(
        overridden,
        output_of("plan", "world-endpoints.yaml", &by_flags)
    );
}

/// SPEC §2: an unknown field is an error naming it with its path; nothing on stdout.
#[test]
fn unknown_link_field_is_named() {
    let target = data("world-endpoints.yaml");
    let file = data("link-unknown-field.yaml");
    let (code, out, err) = run(&["translate", "--target", &target, "--link", &file]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("spec.gatewayPrt: unknown field `gatewayPrt`"),
        "{err}"
    );
}

/// SPEC §2: gateway addresses may be DNS names, resolved by the command; an unresolvable one is
/// an error naming it. (`plan`, not `translate`: the in-memory API server, like a real one,
/// refuses loopback IPs in Endpoints.)
#[test]
fn gateway_names_are_resolved_or_named_in_the_error() {
    let plan = output_of(
        "plan",
        "world-endpoints.yaml",
        &[
            "--cluster-name",
            "west",
            "--gateway-identity",
            "gw",
            "--gateway-address",
            "localhost,10.1.1.1",
        ],
    );
    assert!(
        plan.contains("127.0.0.1:4143") || plan.contains("[::1]:4143"),
        "{plan}"
    );
    assert!(plan.contains("10.1.1.1:4143"), "{plan}");

    let target = data("world-endpoints.yaml");
    let (code, out, err) = run(&[
        "plan",
        "--target",
        &target,
        "--cluster-name",
        "west",
        "--gateway-address",
        "no-such-gateway.invalid",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("\"no-such-gateway.invalid\" does not resolve"),
        "{err}"
    );
}

/// Linkerd's `noGatewayLink` fixture ("link with no gateway mirrors only remote discovery",
/// `multicluster/service-mirror/cluster_watcher_mirroring_test.go`): the remote-discovery export
/// is mirrored (Service only, no Endpoints), the other is not.
#[test]
fn no_gateway_link_mirrors_only_remote_discovery() {
    let out = output_of(
        "translate",
        "no-gateway-target.yaml",
        &["--link", &data("no-gateway-link.yaml"), "-o", "json"],
    );
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    let objects: Vec<(String, String)> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|o| o["kind"] != "Namespace")
        .map(|o| {
            (
                o["kind"].as_str().unwrap_or_default().to_owned(),
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        objects,
        [("Service".to_owned(), "service-one-remote".to_owned())]
    );
    let labels = &list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|o| o["kind"] == "Service")
        .expect("mirror")["metadata"]["labels"];
    assert_eq!(labels["multicluster.linkerd.io/remote-discovery"], "remote");
    assert_eq!(
        labels["multicluster.linkerd.io/remote-service"],
        "service-one"
    );
}

/// SPEC §2: under a gateway-less link, a gateway-mode export gets `NoGateway` (and no gateway
/// identity warning: there is no gateway).
#[test]
fn gateway_mode_export_under_gateway_less_link_gets_no_gateway() {
    let target = data("no-gateway-target.yaml");
    let (code, out, err) = run(&["translate", "--target", &target, "--cluster-name", "remote"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("name: service-one-remote"), "{out}");
    assert!(!out.contains("service-two-remote"), "{out}");
    assert!(
        err.contains("error: NoGateway Service ns1/service-two"),
        "{err}"
    );
    assert!(!err.contains("gatewayIdentity"), "{err}");
}

/// SPEC §2: a gateway-mode link without identity warns on stderr in translate, plan and explain.
#[test]
fn missing_gateway_identity_warns_in_every_command() {
    let target = data("world-endpoints.yaml");
    for command in [vec!["translate"], vec!["plan"], vec!["explain", "shop/web"]] {
        let mut args = command.clone();
        args.extend([
            "--target",
            &target,
            "--cluster-name",
            "west",
            "--gateway-address",
            "172.18.0.4",
        ]);
        let (code, _, err) = run(&args);
        assert_eq!(code, 0, "{command:?}: {err}");
        assert!(
            err.contains("warning: link west: gatewayIdentity is empty"),
            "{command:?}: {err}"
        );
    }
}

/// SPEC §12: one world, read from its Endpoints or from its EndpointSlices (automatically, or
/// with `--target-endpoints slices`), translates and plans byte for byte the same.
#[test]
fn endpoints_and_slices_translate_byte_identical() {
    for command in ["translate", "plan"] {
        let from_endpoints = output_of(command, "world-endpoints.yaml", &flags());
        let from_slices = output_of(command, "world-slices.yaml", &flags());
        assert_eq!(from_endpoints, from_slices, "{command}: auto");
        let mut forced = flags();
        forced.extend(["--target-endpoints", "slices"]);
        assert_eq!(
            from_endpoints,
            output_of(command, "world-slices.yaml", &forced),
            "{command}: slices"
        );
    }
    // The not-ready pod has no endpoint mirror, from either input.
    let out = output_of("translate", "world-slices.yaml", &flags());
    assert!(out.contains("name: nginx-set-1-west"));
    assert!(!out.contains("name: nginx-set-2-west"));
}

/// SPEC §12: exported Services but no endpoint object of the chosen kind: said on stderr.
#[test]
fn no_endpoint_objects_of_the_chosen_kind_is_noted() {
    let target = data("world-slices.yaml");
    let mut args = vec!["plan", "--target", &target];
    args.extend(flags());
    args.extend(["--target-endpoints", "endpoints"]);
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("2 exported Service(s) but no Endpoints (--target-endpoints endpoints"),
        "{err}"
    );
    args.truncate(args.len() - 2);
    let (_, _, err) = run(&args);
    assert!(!err.contains("exported Service(s) but no"), "{err}");
}
