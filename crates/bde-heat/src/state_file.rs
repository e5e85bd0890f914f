//! The engine's state beside the cluster file: locked while a run works on it
//! (a second run fails fast, naming the holder), written owner-only, synced to
//! disk and swapped in whole, so a crash leaves the old state or the new one.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bde_engine::State;

/// A state file held by this run.
pub struct StateFile {
    path: PathBuf,
    // Held for the run: the OS releases it when the process ends, however it ends.
    _lock: File,
}

/// Why the state file could not be used.
#[derive(Debug)]
pub enum StateFileError {
    /// Another run holds it.
    Busy(String),
    /// Reading, parsing or writing failed.
    Io(String),
}

fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

impl StateFile {
    /// Takes the state's lock, or says who holds it.
    pub fn lock(path: &Path) -> Result<Self, StateFileError> {
        let lock_path = lock_path(path);
        let io = |e: std::io::Error| StateFileError::Io(format!("{}: {e}", lock_path.display()));
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io)?;
        if lock.try_lock().is_err() {
            let mut holder = String::new();
            let _ = lock.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                "another run".to_string()
            } else {
                format!("process {holder}")
            };
            return Err(StateFileError::Busy(format!(
                "{} is in use by {who} (lock {}): wait for it to end, or stop it",
                path.display(),
                lock_path.display()
            )));
        }
        lock.set_len(0).map_err(io)?;
        lock.rewind().map_err(io)?;
        write!(lock, "{}", std::process::id()).map_err(io)?;
        Ok(Self {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// The saved state, or a fresh one.
    pub fn load(&self) -> Result<State, StateFileError> {
        read(&self.path)
    }

    /// Writes the state to a temporary file of this run (owner-only), syncs it, and swaps it in.
    pub fn save(&self, state: &State) -> Result<(), StateFileError> {
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(format!(".{}.tmp", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let fail = |e: std::io::Error| StateFileError::Io(format!("saving the state to {}: {e}", self.path.display()));
        let text = serde_json::to_vec_pretty(state).expect("serializable");
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(fail)?;
        file.write_all(&text).and_then(|()| file.sync_all()).map_err(fail)?;
        std::fs::rename(&tmp, &self.path).map_err(fail)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The rename itself reaches the disk with the directory.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

/// The state saved at `path`, or a fresh one, without taking the lock: a run
/// swaps the file in whole, so a reader sees the old state or the new one.
pub fn read(path: &Path) -> Result<State, StateFileError> {
    let fail = |e: String| StateFileError::Io(format!("{}: {e}", path.display()));
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| fail(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(fail(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bde-heat-state-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("c.yaml.state.json")
    }

    #[test]
    fn a_second_holder_is_refused_naming_the_first() {
        let path = scratch("busy");
        let first = StateFile::lock(&path).unwrap();
        let Err(StateFileError::Busy(why)) = StateFile::lock(&path) else {
            panic!("a second lock was granted");
        };
        assert!(why.contains(&format!("process {}", std::process::id())), "{why}");
        drop(first);
        assert!(StateFile::lock(&path).is_ok(), "free again once the holder lets go");
    }

    #[test]
    fn the_state_is_written_owner_only_and_read_back() {
        let path = scratch("mode");
        let file = StateFile::lock(&path).unwrap();
        let state = State {
            resets: 3,
            ..State::default()
        };
        file.save(&state).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(file.load().unwrap(), state);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file is left behind");
    }
}
