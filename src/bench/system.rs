//! What the numbers were measured on: the card, the host, the commit.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Serialize;

use crate::runtime::ProviderKind;

#[derive(Debug, Clone, Serialize)]
pub struct Host {
    pub cpu: String,
    pub threads: usize,
    pub os: String,
    /// `nvidia-smi`'s name of every GPU it lists (empty without nvidia-smi).
    pub gpus: Vec<String>,
}

/// Run a short command and return its standard output, or `None` if it is missing or fails.
pub fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let out = wait_with_timeout(child, Duration::from_secs(10))?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn wait_with_timeout(mut child: std::process::Child, limit: Duration) -> Option<std::process::Output> {
    let started = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().ok(),
            Ok(None) if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// The CPU model from /proc/cpuinfo ("model name"), else the architecture.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// The GPU names nvidia-smi lists, in device order.
pub fn gpu_names() -> Vec<String> {
    command_output("nvidia-smi", &["--query-gpu=name", "--format=csv,noheader"])
        .map(|s| {
            s.lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The card the numbers belong to: `given`, else the GPU `device_id` for a GPU provider, else the CPU
/// with its thread count.
pub fn card(given: Option<&str>, provider: ProviderKind, device_id: i32, host: &Host) -> String {
    if let Some(c) = given.filter(|c| !c.trim().is_empty()) {
        return c.trim().to_string();
    }
    if provider.is_gpu()
        && let Some(name) = usize::try_from(device_id).ok().and_then(|i| host.gpus.get(i))
    {
        return name.clone();
    }
    format!("{} ({} threads)", host.cpu, host.threads)
}

pub fn host() -> Host {
    Host {
        cpu: cpu_model(),
        threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        gpus: gpu_names(),
    }
}

/// `SDGATE_GIT_COMMIT` if set at run time (for a checkout copied without .git), else
/// `git rev-parse HEAD` in the working directory, else `SDGATE_GIT_COMMIT` as it was at build time.
pub fn git_commit() -> Option<String> {
    if let Ok(c) = std::env::var("SDGATE_GIT_COMMIT")
        && !c.trim().is_empty()
    {
        return Some(c.trim().to_string());
    }
    let Some(head) = command_output("git", &["rev-parse", "HEAD"]) else {
        return option_env!("SDGATE_GIT_COMMIT").map(|c| format!("{c} (at build time)"));
    };
    let dirty =
        command_output("git", &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

/// Now, in UTC, RFC 3339.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_is_the_given_name_the_gpu_or_the_cpu() {
        let host = Host {
            cpu: "Some CPU".into(),
            threads: 4,
            os: "linux x86_64".into(),
            gpus: vec!["NVIDIA H100 80GB HBM3".into()],
        };
        assert_eq!(card(Some(" H200 "), ProviderKind::Cuda, 0, &host), "H200");
        assert_eq!(card(None, ProviderKind::Cuda, 0, &host), "NVIDIA H100 80GB HBM3");
        assert_eq!(card(None, ProviderKind::Cuda, 3, &host), "Some CPU (4 threads)");
        assert_eq!(card(None, ProviderKind::Cpu, 0, &host), "Some CPU (4 threads)");
        assert!(!cpu_model().is_empty());
        assert_eq!(command_output("/nonexistent/program", &[]), None);
    }
}
