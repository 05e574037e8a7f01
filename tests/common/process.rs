//! logtap as a process: started on a config, stopped, killed; its CLI; the
//! services; waiting for a condition or a process.

use super::*;

/// Kills `first` with SIGKILL six times at pseudo-random moments (each
/// wait `base_ms` plus up to `spread_ms`, and not before `ready` holds for
/// the running instance's log), restarting logtap on `config` in `dir`
/// after each kill; returns the running instance and the number of kills.
/// `ready` keeps the test's premise true on a slow machine (a kill that
/// lands before the restart did anything tests nothing).
pub async fn kill9_six_times(
    first: Logtap,
    dir: &std::path::Path,
    config: &str,
    base_ms: u64,
    spread_ms: u64,
    ready: impl Fn(&str) -> bool,
) -> (Logtap, u32) {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let mut current = first;
    let mut kills = 0;
    for round in 0..6u32 {
        let jitter = u64::from(nanos >> (round * 4)) % spread_ms;
        tokio::time::sleep(Duration::from_millis(base_ms + jitter)).await;
        assert!(
            crate::common::wait_until(Duration::from_secs(90), || ready(&current.log_text())),
            "logtap never got ready for kill {round}:\n{}",
            current.log_text()
        );
        // Only a kill of a logtap still running counts: one that had
        // already exited (an error) was not killed at all.
        let alive = current.child.try_wait().expect("try_wait").is_none();
        eprintln!(
            "kill -9 {round} after {} ms: logtap was {}",
            base_ms + jitter,
            if alive { "running" } else { "already gone" }
        );
        assert!(alive, "logtap exited before kill {round}:\n{}", current.log_text());
        current.kill9();
        kills += 1;
        current = Logtap::start(dir, config);
    }
    (current, kills)
}

/// Whether a logtap log shows a snapshot's chunk progress stored: a kill
/// now leaves a key for the next start to resume after.
pub fn snapshot_progress_stored(log: &str) -> bool {
    log.lines().any(|l| l.contains("stored position") && l.contains("snapshot_last_key=Some"))
}

/// Runs one of Kafka's own Java tools from the harness's jar directory.
pub fn java_tool(class: &str, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let libs = env("LOGTAP_KAFKA_LIBS");
    let mut cmd = Command::new("java");
    cmd.arg("-cp").arg(format!("{libs}/*"));
    if let Ok(log4j) = std::env::var("LOGTAP_KAFKA_TOOLS_LOG4J") {
        cmd.arg(format!("-Dlog4j2.configurationFile=file:{log4j}"));
    }
    cmd.arg(class).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("java");
    {
        let mut sin = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            sin.write_all(text.as_bytes()).expect("write stdin");
        }
    }
    let out = child.wait_with_output().expect("java output");
    assert!(
        out.status.success(),
        "{class} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `logtap run` child process on a config file written for it.
pub struct Logtap {
    pub child: std::process::Child,
    pub config: std::path::PathBuf,
    pub log: std::path::PathBuf,
}

impl Logtap {
    /// Writes `config` into `dir` and starts `logtap run` on it, logging to a file.
    pub fn start(dir: &std::path::Path, config: &str) -> Logtap {
        let path = dir.join("logtap.toml");
        std::fs::write(&path, config).expect("write config");
        Self::start_on(dir, &path)
    }

    pub fn start_on(dir: &std::path::Path, path: &std::path::Path) -> Logtap {
        Self::start_with_env(dir, path, &[])
    }

    /// [`Logtap::start_on`] with these environment variables set for it.
    pub fn start_with_env(
        dir: &std::path::Path,
        path: &std::path::Path,
        vars: &[(&str, &str)],
    ) -> Logtap {
        use std::process::{Command, Stdio};
        let log = dir.join(format!("logtap-{}.log", unique("")));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_logtap"))
            .args(["run", "--config"])
            .arg(path)
            .env("RUST_LOG", "info,logtap_postgres=debug,logtap::commit=debug")
            .envs(vars.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("spawn logtap");
        Logtap { child, config: path.to_path_buf(), log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then wait; panics with the log if it does not exit 0.
    pub fn stop(mut self) -> String {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().expect("wait");
        let log = self.log_text();
        assert!(status.success(), "logtap exited with {status}:\n{log}");
        log
    }

    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Runs `logtap <sub> --config <this config>` and returns stdout+stderr.
    pub fn cli(&self, sub: &str) -> (bool, String) {
        logtap_cli(sub, &self.config)
    }
}

/// Runs `logtap <sub> --config <config>` (no logtap needs to run; `sub`
/// split at spaces, e.g. "reset --yes"): whether it succeeded, and stdout
/// followed by stderr.
pub fn logtap_cli(sub: &str, config: &std::path::Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logtap"))
        .args(sub.split_whitespace())
        .arg("--config")
        .arg(config)
        .output()
        .expect("logtap cli");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

impl Drop for Logtap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `scripts/services up`: starts whichever harness server is not running
/// (after a test stopped or killed one). In scripts/test's MySQL pass
/// `LOGTAP_MYSQL_PORT` names MySQL's port; MariaDB's own is in
/// `LOGTAP_MARIADB_PORT`, and scripts/services must get that one.
pub fn services_up() {
    let services = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/services");
    let mut cmd = std::process::Command::new(services);
    if let Ok(port) = std::env::var("LOGTAP_MARIADB_PORT") {
        cmd.env("LOGTAP_MYSQL_PORT", port);
    }
    let out = cmd.arg("up").stdin(std::process::Stdio::null()).output().expect("scripts/services");
    assert!(
        out.status.success(),
        "scripts/services up failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until process `pid` is gone; panics naming `what` if it is not
/// within `timeout`.
pub fn wait_exited(pid: &str, what: &str, timeout: Duration) {
    assert!(
        wait_until(timeout, || !std::path::Path::new(&format!("/proc/{pid}")).exists()),
        "{what} (pid {pid}) did not exit"
    );
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// Local ports of `pid`'s TCP connections to `remote_port` (from /proc).
pub fn tcp_local_ports(pid: u32, remote_port: u16) -> Vec<u16> {
    let mut inodes = std::collections::HashSet::new();
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let t = target.to_string_lossy().into_owned();
                if let Some(inode) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                    inodes.insert(inode.to_string());
                }
            }
        }
    }
    let port = |addr: &str| addr.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
    let mut out = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && port(f[2]) == Some(remote_port) && inodes.contains(f[9]) {
                out.extend(port(f[1]));
            }
        }
    }
    out
}

/// A certificate authority of its own, made with openssl in `dir`, which
/// signed nothing any harness server holds: for tests of a wrong CA.
/// Returns its certificate's path.
pub fn other_ca(dir: &std::path::Path) -> String {
    let (key, crt) = (dir.join("other-ca.key"), dir.join("other-ca.crt"));
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .args(["-nodes", "-days", "1", "-subj", "/CN=not a harness CA", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    crt.display().to_string()
}
