//! Prometheus metrics (text exposition at /metrics).
//!
//! The device pool reports per-step timings through [`Metrics::observe_step`]; the job layer counts
//! jobs and images; the HTTP middleware counts requests and errors.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::runtime::backend::Backend;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabels {
    r#type: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    status: u16,
}

/// Every metric sdgate exports. Share one `Arc<Metrics>` between the API, the job layer and the pool.
pub struct Metrics {
    registry: Registry,
    queue_depth: Gauge,
    queue_capacity: Gauge,
    in_flight: Gauge,
    ready: Gauge,
    jobs: Family<OutcomeLabels, Counter>,
    job_seconds: Histogram,
    step_seconds: Histogram,
    images: Counter,
    errors: Family<TypeLabels, Counter>,
    http_requests: Family<HttpLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sdgate");
        let queue_depth = Gauge::default();
        let queue_capacity = Gauge::default();
        let in_flight = Gauge::default();
        let ready = Gauge::default();
        let jobs = Family::<OutcomeLabels, Counter>::default();
        // 0.05 s .. ~7 min
        let job_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 14));
        // 1 ms .. ~16 s
        let step_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        let images = Counter::default();
        let errors = Family::<TypeLabels, Counter>::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register("queue_depth", "Jobs accepted but not yet started", queue_depth.clone());
        registry.register(
            "queue_capacity",
            "Jobs that may wait (--queue-limit)",
            queue_capacity.clone(),
        );
        registry.register("jobs_in_flight", "Jobs queued or running", in_flight.clone());
        registry.register("ready", "1 when every device worker is ready", ready.clone());
        registry.register("jobs", "Finished jobs by outcome", jobs.clone());
        registry.register(
            "job_seconds",
            "Seconds from a job's acceptance to its end",
            job_seconds.clone(),
        );
        registry.register(
            "step_seconds",
            "Seconds per denoising step (one UNet batch)",
            step_seconds.clone(),
        );
        registry.register("images", "Images generated", images.clone());
        registry.register("errors", "Errors by type (API answers and failed jobs)", errors.clone());
        registry.register(
            "http_requests",
            "HTTP requests by route pattern and status",
            http_requests.clone(),
        );
        Metrics {
            registry,
            queue_depth,
            queue_capacity,
            in_flight,
            ready,
            jobs,
            job_seconds,
            step_seconds,
            images,
            errors,
            http_requests,
        }
    }

    /// One denoising step took `secs` (called by the device worker).
    pub fn observe_step(&self, secs: f64) {
        self.step_seconds.observe(secs);
    }

    /// A job ended with `outcome` (its final state) after `secs`.
    pub fn observe_job(&self, outcome: &str, secs: f64) {
        self.jobs
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
        self.job_seconds.observe(secs);
    }

    pub fn add_images(&self, n: usize) {
        self.images.inc_by(n as u64);
    }

    pub fn error(&self, kind: &str) {
        self.errors
            .get_or_create(&TypeLabels {
                r#type: kind.to_string(),
            })
            .inc();
    }

    pub fn http_request(&self, route: &str, status: u16) {
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.to_string(),
                status,
            })
            .inc();
    }

    /// The text exposition, with the gauges read from the backend now.
    pub fn encode(&self, backend: &dyn Backend) -> String {
        self.queue_depth.set(backend.queue_depth() as i64);
        self.queue_capacity.set(backend.queue_capacity() as i64);
        self.in_flight.set(backend.in_flight() as i64);
        self.ready.set(i64::from(backend.is_ready()));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
