//! `logtap healthcheck`: asks the running logtap's `/healthz` (its
//! `[metrics] listen`) and exits 0 when it answers 200. For container
//! health checks in images without curl or a shell.

use crate::config::Config;
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub fn healthcheck(cfg: &Config) -> Result<()> {
    let listen = cfg
        .metrics
        .listen
        .as_deref()
        .context("[metrics] listen is not set: logtap serves no /healthz to ask")?;
    let mut addr: SocketAddr = listen.parse().context("metrics.listen")?;
    // A wildcard listen is asked on loopback.
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let timeout = Duration::from_secs(3);
    let mut s = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("nothing answers on {addr}"))?;
    s.set_read_timeout(Some(timeout))?;
    write!(s, "GET /healthz HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    let status = reply.lines().next().unwrap_or_default().to_string();
    if status.split_whitespace().nth(1) != Some("200") {
        bail!("http://{addr}/healthz answered `{status}`");
    }
    println!("healthy: http://{addr}/healthz");
    Ok(())
}
