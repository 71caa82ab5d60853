//! Helpers shared by the tests that run the `svcmirror run` binary against the loopback API
//! servers (`run_binary`, `run_probe`, `run_federation`, `run_link_name`): kubeconfigs for the
//! plain-HTTP servers, a bare HTTP GET of the admin server, the child's log, a run of the binary
//! to its end (`svcmirror_output`: `check`, `unlink`, `link`), a bounded poll of a running child
//! (`wait_for`).
#![allow(dead_code)] // each includer uses part of it

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

/// A kubeconfig's text for the plain-HTTP server at `addr`.
pub fn kubeconfig_text(name: &str, addr: SocketAddr) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: {name}\n\
         clusters:\n- name: {name}\n  cluster:\n    server: http://{addr}\n\
         contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n\
         users:\n- name: {name}\n  user: {{}}\n"
    )
}

/// A kubeconfig file `dir/<name>.kubeconfig` for the plain-HTTP server at `addr`.
pub fn kubeconfig(dir: &Path, name: &str, addr: SocketAddr) -> PathBuf {
    std::fs::create_dir_all(dir).expect("dir");
    let path = dir.join(format!("{name}.kubeconfig"));
    std::fs::write(&path, kubeconfig_text(name, addr)).expect("write kubeconfig");
    path
}

/// `GET path` over HTTP/1.0: the status code and body, or `None` while nothing listens.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let code = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((code, body.to_owned()))
}

/// The child's stderr so far (its log), for failure messages.
pub fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
}

/// Runs the `svcmirror` binary to its end, off the async runtime (the loopback servers keep
/// serving): its exit code, stdout and stderr. `RUST_LOG` is cleared (the default levels apply).
pub async fn svcmirror_output(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_svcmirror"))
            .args(&args)
            .env_remove("RUST_LOG")
            .output()
            .expect("svcmirror runs");
        (
            out.status.code().expect("an exit code"),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("joined")
}

/// Polls `check` every 100 ms, at most `tries` times (a hang guard, never a timing assertion);
/// panics with its last answer and the child's log, at once if the child exits.
pub async fn wait_for(
    child: &mut Child,
    dir: &Path,
    tries: u32,
    mut check: impl FnMut() -> Result<(), String>,
) {
    let mut last = String::new();
    for _ in 0..tries {
        match check() {
            Ok(()) => return,
            Err(why) => last = why,
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("svcmirror exited ({status}); last: {last}\n{}", log(dir));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    panic!("gave up waiting; last: {last}\n{}", log(dir));
}
