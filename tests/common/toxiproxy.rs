//! Toxiproxy's HTTP API (the harness's `scripts/services` runs it with
//! LOGTAP_TOXIPROXY=1): proxies between logtap and a server, and the
//! faults ("toxics") they inject.

use super::*;

/// The harness's Toxiproxy.
pub struct Toxiproxy {
    port: u16,
}

impl Toxiproxy {
    pub fn from_env() -> Toxiproxy {
        let url = env("LOGTAP_TOXIPROXY_URL");
        let port = url.rsplit(':').next().and_then(|p| p.parse().ok());
        Toxiproxy { port: port.unwrap_or_else(|| panic!("LOGTAP_TOXIPROXY_URL: {url}")) }
    }

    fn call(&self, method: &str, path: &str, body: &str) -> String {
        let (code, text) = request(self.port, method, path, body)
            .unwrap_or_else(|| panic!("Toxiproxy does not answer {method} {path}"));
        assert!((200..300).contains(&code), "Toxiproxy {method} {path} {body}: {code} {text}");
        text
    }

    /// Every proxy enabled, every toxic removed.
    pub fn reset(&self) {
        self.call("POST", "/reset", "");
    }

    /// A new proxy `name` to `upstream` on a free loopback port: that port.
    pub fn proxy(&self, name: &str, upstream: &str) -> u16 {
        let body = format!(
            r#"{{"name": "{name}", "listen": "127.0.0.1:0", "upstream": "{upstream}", "enabled": true}}"#
        );
        let created: serde_json::Value =
            serde_json::from_str(&self.call("POST", "/proxies", &body))
                .expect("Toxiproxy's answer is JSON");
        let listen = created["listen"].as_str().expect("listen").to_string();
        listen.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port")
    }

    pub fn delete(&self, name: &str) {
        let _ = request(self.port, "DELETE", &format!("/proxies/{name}"), "");
    }

    /// Disabling a proxy closes its connections and refuses new ones.
    pub fn set_enabled(&self, name: &str, enabled: bool) {
        self.call("POST", &format!("/proxies/{name}"), &format!(r#"{{"enabled": {enabled}}}"#));
    }

    /// Adds toxic `kind` (`latency`, `bandwidth`, `reset_peer`, ...) with
    /// `attributes` (a JSON object) to both directions of proxy `name`.
    pub fn add_toxic(&self, name: &str, kind: &str, attributes: &str) {
        for stream in ["upstream", "downstream"] {
            let body = format!(
                r#"{{"name": "{kind}_{stream}", "type": "{kind}", "stream": "{stream}", "toxicity": 1.0, "attributes": {attributes}}}"#
            );
            self.call("POST", &format!("/proxies/{name}/toxics"), &body);
        }
    }

    pub fn remove_toxic(&self, name: &str, kind: &str) {
        for stream in ["upstream", "downstream"] {
            self.call("DELETE", &format!("/proxies/{name}/toxics/{kind}_{stream}"), "");
        }
    }
}
