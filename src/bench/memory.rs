//! Peak memory: the GPU's used memory from nvidia-smi (sampled by a thread), and this process's peak
//! resident set (VmHWM) on the host.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

use super::system::command_output;

/// Peak memory over one part of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PartMemory {
    pub part: String,
    /// Highest `memory.used` of the GPU seen (MiB; the whole device, every process).
    pub gpu_peak_mib: Option<u64>,
    /// This process's peak resident set (MiB). Per part when the kernel lets us reset the peak
    /// (/proc/self/clear_refs), otherwise since the process started.
    pub host_peak_rss_mib: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    /// How GPU memory was read (`null` without a GPU provider or nvidia-smi).
    pub gpu_source: Option<String>,
    /// GPU memory used before the model was loaded (MiB).
    pub gpu_before_mib: Option<u64>,
    pub gpu_peak_mib: Option<u64>,
    pub host_peak_rss_mib: Option<f64>,
    pub host_peak_rss_is_per_part: bool,
    /// In the order the parts ran.
    pub parts: Vec<PartMemory>,
    /// GPU samples taken.
    pub gpu_samples: u64,
}

/// The sampler: start it before loading anything, `begin_part` / `end_part` around each part.
pub struct MemoryProbe {
    gpu: Option<GpuPoller>,
    gpu_before: Option<u64>,
    rss_resettable: bool,
    parts: Vec<PartMemory>,
    overall_rss: Option<f64>,
}

struct GpuPoller {
    device: String,
    part_peak: Arc<AtomicU64>,
    overall_peak: Arc<AtomicU64>,
    samples: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// `memory.used` of one GPU in MiB.
pub fn gpu_used_mib(device: &str) -> Option<u64> {
    let out = command_output(
        "nvidia-smi",
        &["--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", device],
    )?;
    out.lines().next()?.trim().parse().ok()
}

/// This process's peak resident set in MiB (VmHWM of /proc/self/status).
pub fn peak_rss_mib() -> Option<f64> {
    status_kib("VmHWM:").map(|k| k as f64 / 1024.0)
}

fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// Reset VmHWM to the current resident set (Linux ≥ 4.0); false if not allowed.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

impl MemoryProbe {
    /// Sample GPU `device_id` every `interval` when `gpu` is true and nvidia-smi answers.
    pub fn start(gpu: bool, device_id: i32, interval: Duration) -> Self {
        let device = device_id.to_string();
        let gpu_before = if gpu { gpu_used_mib(&device) } else { None };
        let gpu = gpu_before.map(|_| GpuPoller::start(device, interval.max(Duration::from_millis(20))));
        MemoryProbe {
            gpu,
            gpu_before,
            rss_resettable: reset_peak_rss(),
            parts: Vec::new(),
            overall_rss: None,
        }
    }

    pub fn begin_part(&mut self) {
        if let Some(g) = &self.gpu {
            g.part_peak.store(0, Ordering::SeqCst);
            g.sample_now();
        }
        if self.rss_resettable {
            self.rss_resettable = reset_peak_rss();
        }
    }

    pub fn end_part(&mut self, name: &str) -> PartMemory {
        let gpu_peak_mib = self.gpu.as_ref().map(|g| {
            g.sample_now();
            g.part_peak.load(Ordering::SeqCst)
        });
        let host = peak_rss_mib();
        self.overall_rss = match (self.overall_rss, host) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let m = PartMemory {
            part: name.to_string(),
            gpu_peak_mib,
            host_peak_rss_mib: host,
        };
        self.parts.push(m.clone());
        m
    }

    pub fn finish(mut self) -> MemoryReport {
        let (gpu_source, gpu_peak_mib, gpu_samples) = match self.gpu.as_mut() {
            Some(g) => {
                g.stop();
                (
                    Some(format!(
                        "nvidia-smi --query-gpu=memory.used -i {} (whole device)",
                        g.device
                    )),
                    Some(g.overall_peak.load(Ordering::SeqCst)),
                    g.samples.load(Ordering::SeqCst),
                )
            }
            None => (None, None, 0),
        };
        let rss = peak_rss_mib();
        MemoryReport {
            gpu_source,
            gpu_before_mib: self.gpu_before,
            gpu_peak_mib,
            host_peak_rss_mib: match (self.overall_rss, rss) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
            host_peak_rss_is_per_part: self.rss_resettable,
            parts: self.parts.clone(),
            gpu_samples,
        }
    }
}

impl GpuPoller {
    fn start(device: String, interval: Duration) -> Self {
        let part_peak = Arc::new(AtomicU64::new(0));
        let overall_peak = Arc::new(AtomicU64::new(0));
        let samples = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (pp, op, sm, st, dev) = (
            part_peak.clone(),
            overall_peak.clone(),
            samples.clone(),
            stop.clone(),
            device.clone(),
        );
        let thread = std::thread::Builder::new()
            .name("sdgate-bench-gpumem".into())
            .spawn(move || {
                while !st.load(Ordering::SeqCst) {
                    if let Some(mib) = gpu_used_mib(&dev) {
                        pp.fetch_max(mib, Ordering::SeqCst);
                        op.fetch_max(mib, Ordering::SeqCst);
                        sm.fetch_add(1, Ordering::SeqCst);
                    }
                    std::thread::sleep(interval);
                }
            })
            .ok();
        GpuPoller {
            device,
            part_peak,
            overall_peak,
            samples,
            stop,
            thread,
        }
    }

    fn sample_now(&self) {
        if let Some(mib) = gpu_used_mib(&self.device) {
            self.part_peak.fetch_max(mib, Ordering::SeqCst);
            self.overall_peak.fetch_max(mib, Ordering::SeqCst);
            self.samples.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for GpuPoller {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_peak_memory_is_read_and_parts_are_recorded() {
        assert!(peak_rss_mib().is_some_and(|m| m > 0.0));
        let mut p = MemoryProbe::start(false, 0, Duration::from_millis(50));
        p.begin_part();
        let m = p.end_part("unet");
        assert!(m.gpu_peak_mib.is_none());
        assert!(m.host_peak_rss_mib.is_some());
        let r = p.finish();
        assert!(r.gpu_source.is_none());
        assert_eq!(r.parts[0].part, "unet");
    }
}
