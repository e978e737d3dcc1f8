//! `sdgate probe`: a minimal HTTP/1.1 GET against the local server, with Basic auth, for container
//! health checks and Kubernetes exec probes (the runtime images carry no curl).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use base64::Engine as _;

use crate::config::ProbeArgs;

/// The HTTP status of `GET path` on 127.0.0.1:port.
pub fn status(args: &ProbeArgs) -> Result<u16, String> {
    if !args.path.starts_with('/') || args.path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(format!("bad path {:?}", args.path));
    }
    let timeout = Duration::from_secs(args.timeout.max(1));
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let mut request = format!("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", args.path);
    if let Some((user, pass)) = args.api_auth.as_ref().and_then(|c| c.pairs().first()) {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        request.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).map_err(|e| e.to_string())?;
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {line:?}"))
}
