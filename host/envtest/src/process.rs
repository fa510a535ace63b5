//! A server process whose output goes to a log file and that is killed on drop.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use crate::Error;

/// How much of the end of a log goes into an error message.
const TAIL_LINES: usize = 40;
const TAIL_BYTES: u64 = 16 * 1024;

/// A running child process; dropping it kills it (SIGKILL) and reaps it.
pub(crate) struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `binary` with `args`, stdout and stderr appended to `log`.
    pub(crate) fn spawn(name: &'static str, binary: &Path, args: &[String], log: PathBuf) -> Result<Self, Error> {
        let out = File::create(&log).map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
        let err = out.try_clone().map_err(|e| Error::io(format!("duplicating {}", log.display()), e))?;
        tracing::debug!(name, binary = %binary.display(), ?args, "starting");
        let child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| Error::io(format!("starting {}", binary.display()), e))?;
        Ok(Self { name, child, log })
    }

    /// The process name used in messages.
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// The operating system's id of the process.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// The log file.
    pub(crate) fn log(&self) -> &Path {
        &self.log
    }

    /// An [`Error::Exited`] if the process has exited.
    pub(crate) fn check_running(&mut self) -> Result<(), Error> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(self.exited(status)),
            Err(e) => Err(Error::io(format!("checking on {}", self.name), e)),
        }
    }

    fn exited(&self, status: ExitStatus) -> Error {
        Error::Exited { process: self.name, status, log: self.log.clone(), tail: log_tail(&self.log) }
    }

    /// The last lines of the log (or why they could not be read).
    pub(crate) fn tail(&self) -> String {
        log_tail(&self.log)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        if let Err(e) = self.child.kill() {
            tracing::warn!(name = self.name, error = %e, "killing");
        }
        if let Err(e) = self.child.wait() {
            tracing::warn!(name = self.name, error = %e, "waiting for exit");
        }
    }
}

/// The last [`TAIL_LINES`] lines of the file at `path`.
pub(crate) fn log_tail(path: &Path) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
        }
        Err(e) => format!("(could not read {}: {e})", path.display()),
    }
}
