//! The log channel: one JSON line per notification, appended to a file.

use std::{
    fs::OpenOptions,
    io::Write as _,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
};

use async_trait::async_trait;

use super::{Channel, ChannelError};
use crate::domain::Notification;

/// Appends notifications to a JSON-lines file.
///
/// Each line is written with one `write` call on a file opened for append,
/// under a process-wide lock taken inside the blocking task (never across an
/// `.await`), so concurrent deliveries from several partitions never
/// interleave within a line.
#[derive(Debug, Clone)]
pub struct LogChannel {
    path: PathBuf,
    lock: Arc<Mutex<()>>,
}

impl LogChannel {
    pub fn new(path: PathBuf) -> Self {
        LogChannel {
            path,
            lock: Arc::new(Mutex::new(())),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl Channel for LogChannel {
    fn name(&self) -> &'static str {
        "log"
    }

    async fn deliver(&self, notification: &Notification) -> Result<(), ChannelError> {
        let mut line = serde_json::to_vec(notification)?;
        line.push(b'\n');
        let path = self.path.clone();
        let lock = self.lock.clone();
        let failed = |source| ChannelError::File {
            path: self.path.clone(),
            source,
        };
        tokio::task::spawn_blocking(move || {
            let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
            file.write_all(&line)?;
            file.flush()
        })
        .await
        .map_err(|join| failed(std::io::Error::other(join)))?
        .map_err(failed)
    }
}
