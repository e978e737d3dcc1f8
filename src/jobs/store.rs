//! Where job records live. In memory by default, behind a trait so a shared store can serve several
//! replicas later. Retention is bounded: the last `max_finished` finished jobs, each for at most `ttl`.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::Utc;
use parking_lot::Mutex;

use super::record::{JobId, JobRecord, JobState};

/// A page of jobs, newest first.
#[derive(Debug, Clone, Default)]
pub struct JobPage {
    pub jobs: Vec<JobRecord>,
    pub total: usize,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    pub state: Option<JobState>,
    pub offset: usize,
    pub limit: usize,
}

pub trait JobStore: Send + Sync + 'static {
    fn insert(&self, record: JobRecord);
    fn get(&self, id: JobId) -> Option<JobRecord>;
    /// Apply `f` to the record; returns the updated record (None when unknown).
    fn update(&self, id: JobId, f: &mut dyn FnMut(&mut JobRecord)) -> Option<JobRecord>;
    fn list(&self, query: &JobQuery) -> JobPage;
    /// Drop finished jobs past the retention limits.
    fn prune(&self);
}

/// Retention limits.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub max_finished: usize,
    pub ttl: Duration,
    /// Bytes of images (PNGs and previews) finished jobs may hold in all.
    pub max_bytes: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_finished: 200,
            ttl: Duration::from_secs(3600),
            max_bytes: 512 * 1024 * 1024,
        }
    }
}

/// Bytes of images a record holds.
fn image_bytes(r: &JobRecord) -> usize {
    let out = r
        .output
        .as_ref()
        .map_or(0, |o| o.images.iter().map(|i| i.png.len()).sum::<usize>());
    out + r.preview.as_ref().map_or(0, |p| p.len())
}

#[derive(Default)]
struct Inner {
    records: HashMap<JobId, JobRecord>,
    /// Ids in submission order (oldest first).
    order: VecDeque<JobId>,
}

/// The default store: a map in this process.
pub struct MemoryJobStore {
    inner: Mutex<Inner>,
    retention: Retention,
}

impl MemoryJobStore {
    pub fn new(retention: Retention) -> Self {
        MemoryJobStore {
            inner: Mutex::new(Inner::default()),
            retention,
        }
    }
}

impl JobStore for MemoryJobStore {
    fn insert(&self, record: JobRecord) {
        {
            let mut inner = self.inner.lock();
            inner.order.push_back(record.id);
            inner.records.insert(record.id, record);
        }
        self.prune();
    }

    fn get(&self, id: JobId) -> Option<JobRecord> {
        self.inner.lock().records.get(&id).cloned()
    }

    fn update(&self, id: JobId, f: &mut dyn FnMut(&mut JobRecord)) -> Option<JobRecord> {
        let mut inner = self.inner.lock();
        let rec = inner.records.get_mut(&id)?;
        f(rec);
        rec.version += 1;
        Some(rec.clone())
    }

    fn list(&self, query: &JobQuery) -> JobPage {
        let inner = self.inner.lock();
        let matching = inner
            .order
            .iter()
            .rev()
            .filter_map(|id| inner.records.get(id))
            .filter(|r| query.state.is_none_or(|s| r.state == s));
        let mut total = 0;
        let mut jobs = Vec::new();
        for (i, r) in matching.enumerate() {
            total += 1;
            if i >= query.offset && jobs.len() < query.limit {
                jobs.push(r.clone());
            }
        }
        JobPage { jobs, total }
    }

    fn prune(&self) {
        let now = Utc::now();
        let ttl = chrono::Duration::from_std(self.retention.ttl).unwrap_or(chrono::Duration::MAX);
        let mut inner = self.inner.lock();
        let (mut finished, mut bytes) = (0usize, 0usize);
        for r in inner.records.values().filter(|r| r.state.is_final()) {
            finished += 1;
            bytes += image_bytes(r);
        }
        let Inner { records, order } = &mut *inner;
        // Oldest first: drop expired jobs, then as many more as the count and byte limits need.
        order.retain(|id| {
            let Some(r) = records.get(id) else { return false };
            if !r.state.is_final() {
                return true;
            }
            let expired = r.finished_at.is_some_and(|t| now.signed_duration_since(t) > ttl);
            if expired || finished > self.retention.max_finished || bytes > self.retention.max_bytes {
                finished -= 1;
                bytes -= image_bytes(r);
                records.remove(id);
                false
            } else {
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::record::{JobKind, JobMeta, JobOrigin};

    fn rec() -> JobRecord {
        JobRecord::new(
            uuid::Uuid::new_v4(),
            JobMeta {
                kind: JobKind::Txt2img,
                origin: JobOrigin::Native,
                model: "m".into(),
                image_count: 1,
                parameters: serde_json::json!({}),
            },
        )
    }

    fn finish(store: &MemoryJobStore, id: JobId) {
        store.update(id, &mut |r| {
            r.state = JobState::Succeeded;
            r.finished_at = Some(Utc::now());
        });
    }

    #[test]
    fn keeps_the_last_finished_jobs_and_every_active_one() {
        let store = MemoryJobStore::new(Retention {
            max_finished: 2,
            ttl: Duration::from_secs(60),
            ..Retention::default()
        });
        let active = rec();
        let active_id = active.id;
        store.insert(active);
        let ids: Vec<JobId> = (0..4)
            .map(|_| {
                let r = rec();
                let id = r.id;
                store.insert(r);
                finish(&store, id);
                id
            })
            .collect();
        store.prune();
        assert!(store.get(active_id).is_some());
        assert!(store.get(ids[0]).is_none());
        assert!(store.get(ids[1]).is_none());
        assert!(store.get(ids[3]).is_some());
        let page = store.list(&JobQuery {
            state: None,
            offset: 0,
            limit: 10,
        });
        assert_eq!(page.total, 3);
        assert_eq!(page.jobs[0].id, ids[3], "newest first");
        let page = store.list(&JobQuery {
            state: Some(JobState::Queued),
            offset: 0,
            limit: 10,
        });
        assert_eq!(page.jobs.len(), 1);
    }

    #[test]
    fn keeps_images_within_the_byte_budget() {
        let store = MemoryJobStore::new(Retention {
            max_bytes: 250,
            ..Retention::default()
        });
        let ids: Vec<JobId> = (0..3)
            .map(|_| {
                let r = rec();
                let id = r.id;
                store.insert(r);
                store.update(id, &mut |r| {
                    r.state = JobState::Succeeded;
                    r.finished_at = Some(Utc::now());
                    r.preview = Some(std::sync::Arc::new(vec![0u8; 100]));
                });
                id
            })
            .collect();
        store.prune();
        assert!(store.get(ids[0]).is_none(), "the oldest goes first");
        assert!(store.get(ids[1]).is_some() && store.get(ids[2]).is_some());
    }

    #[test]
    fn expires_old_finished_jobs() {
        let store = MemoryJobStore::new(Retention {
            max_finished: 10,
            ttl: Duration::from_secs(0),
            ..Retention::default()
        });
        let r = rec();
        let id = r.id;
        store.insert(r);
        store.update(id, &mut |r| {
            r.state = JobState::Failed;
            r.finished_at = Some(Utc::now() - chrono::Duration::seconds(5));
        });
        store.prune();
        assert!(store.get(id).is_none());
    }
}
