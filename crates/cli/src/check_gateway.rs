//! `svcmirror check`, the gateway (like `linkerd multicluster check`'s "remote cluster gateway
//! is alive"): each gateway address of the link, as `svcmirror run` resolved it, is sent the
//! prober's one request (`crate::probe::probe_status`, SPEC §2.1: `GET
//! http://<address>:<probeSpec.port><probeSpec.path>` within `probeSpec.timeout`, the `--probe-*`
//! flags over the Link's fields), all addresses at once. A line per address; anything but HTTP
//! 200 fails. A link without a gateway has nothing to probe; `--no-probe` skips the probe, as it
//! does for `run`.

use std::net::SocketAddr;
use std::time::Instant;

use http::StatusCode;
use svcmirror_core::Link;

use crate::checklist::Checklist;
use crate::probe::{ProbeArgs, probe_status};

/// Probes every gateway address of `link` once, a checklist line each.
pub async fn probe_gateway(list: &mut Checklist, link: &Link, flags: &ProbeArgs) {
    let addresses = link.gateway_addresses();
    if addresses.is_empty() {
        // SPEC §2: a gateway-less link mirrors remote-discovery and federated exports only.
        list.ok("no gateway (remote discovery / federated only): nothing to probe");
        return;
    }
    let spec = flags.spec(link.gateway_probe());
    if flags.no_probe {
        list.skip(&format!(
            "gateway not probed (--no-probe): {} address(es), probe port {}, path {}",
            addresses.len(),
            spec.port,
            spec.path
        ));
        return;
    }
    // All addresses at once (one gateway behind a load balancer: each may time out), the lines
    // in the Link's order.
    let probed = flags.targets(addresses);
    let answers = futures::future::join_all(probed.iter().map(|ip| {
        let addr = SocketAddr::new(*ip, spec.port);
        let path = spec.path.clone();
        async move {
            let start = Instant::now();
            let answer = probe_status(addr, &path, spec.timeout).await;
            (addr, answer, start.elapsed().as_millis())
        }
    }))
    .await;
    for (addr, answer, ms) in answers {
        let what = format!("gateway {addr}{}", spec.path);
        match answer {
            Ok(StatusCode::OK) => list.ok(&format!("{what} answers 200 in {ms} ms")),
            Ok(code) => list.fail(
                &format!("{what} answers 200"),
                &format!(
                    "it answered {code} in {ms} ms: the gateway is not ready; after {} such \
                     probes the controller marks every mirror's endpoints not ready (is \
                     Linkerd's gateway running in the target?)",
                    spec.failure_threshold
                ),
            ),
            Err(e) => list.fail(
                &format!("{what} answers 200"),
                &format!(
                    "{e}: the source cannot reach the gateway's probe port (check the gateway \
                     address and probeSpec.port, the target's load balancer and firewalls)"
                ),
            ),
        }
    }
}
