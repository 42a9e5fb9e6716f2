//! `cortado exec cp`: one file between here and a task's container, through ECS Exec alone (no
//! agent or port in the container, only `sh` and `base64`, as in ecspresso v3's `exec cp`).
//!
//! - Upload (`cp LOCAL TASK:/PATH`): the file travels base64-encoded inside the commands, one
//!   ExecuteCommand per 24 KiB (`/bin/sh -c 'echo B64 | base64 -d > "/PATH"'`, then `>>`), so
//!   nothing depends on a terminal's input. The requests are gated and audited as one plan.
//! - Download (`cp TASK:/PATH LOCAL`): one ExecuteCommand prints the file base64-encoded between
//!   two marker lines; the session's output (the plugin's banner, the terminal's `\r`) is cut
//!   away and the rest decoded.
//!
//! `_` as the task selects one (the filter command, or the prompt), as `--id` left out does.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use aws_smithy_types::base64;

use crate::error::InputError;

/// Raw bytes per upload command (32 KiB once base64-encoded).
const CHUNK: usize = 24 * 1024;
const BEGIN: &str = "CORTADO-CP-BEGIN";
const END: &str = "CORTADO-CP-END";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direction {
    Upload,
    Download,
}

/// One copy: which way, the task (`_`: select), the path in the container and the local path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    pub direction: Direction,
    pub task: String,
    pub remote: String,
    pub local: PathBuf,
}

/// `TASK:PATH` when `s` names a path in a task: TASK is non-empty and has no `/` (a local path
/// with a colon is written `./a:b`).
fn remote_of(s: &str) -> Option<(&str, &str)> {
    let (task, path) = s.split_once(':')?;
    (!task.is_empty() && !task.contains('/')).then_some((task, path))
}

impl Copy {
    /// Exactly one of `source` and `destination` is `TASK:PATH`.
    pub fn parse(source: &str, destination: &str) -> Result<Copy> {
        let (direction, (task, remote), local) = match (remote_of(source), remote_of(destination)) {
            (None, Some(r)) => (Direction::Upload, r, source),
            (Some(r), None) => (Direction::Download, r, destination),
            (Some(_), Some(_)) => return Err(InputError::new(format!("exec cp {source} {destination}: both are in a task; one must be local")).into()),
            (None, None) => {
                return Err(InputError::new(format!(
                    "exec cp {source} {destination}: neither is in a task; write one as TASK:/PATH (`_:/PATH` selects the task)"
                ))
                .into());
            }
        };
        if remote.is_empty() {
            return Err(InputError::new(format!("exec cp: {task}: names no path in the container")).into());
        }
        if let Some(c) = remote.chars().find(|c| matches!(c, '\'' | '"' | '$' | '`' | '\\' | '\n')) {
            return Err(InputError::new(format!("exec cp: the path {remote:?} in the container has {c:?}, which the copy's shell command cannot quote")).into());
        }
        if local.is_empty() {
            return Err(InputError::new("exec cp: the local path is empty").into());
        }
        Ok(Copy { direction, task: task.to_owned(), remote: remote.to_owned(), local: PathBuf::from(local) })
    }

    /// The task named in the path; None for `_` (select one).
    pub fn task_id(&self) -> Option<String> {
        (self.task != "_").then(|| self.task.clone())
    }

    /// An upload's bytes, read before any AWS call (an unreadable file costs nothing).
    pub fn read_local(&self) -> Result<Option<Vec<u8>>> {
        if self.direction == Direction::Download {
            return Ok(None);
        }
        std::fs::read(&self.local).map(Some).map_err(|e| InputError::new(format!("exec cp: cannot read {}: {e}", self.local.display())).into())
    }

    /// The path in the container: a directory (`/tmp/`) gets the local file's name.
    fn remote_path(&self) -> String {
        match (self.remote.ends_with('/'), self.direction == Direction::Upload, self.local.file_name()) {
            (true, true, Some(name)) => format!("{}{}", self.remote, name.to_string_lossy()),
            _ => self.remote.clone(),
        }
    }

    /// The ExecuteCommand commands, in order.
    pub fn commands(&self, data: Option<&[u8]>) -> Vec<String> {
        let path = self.remote_path();
        let Some(data) = data else {
            return vec![format!("/bin/sh -c 'echo {BEGIN} && base64 < \"{path}\" && echo {END}'")];
        };
        if data.is_empty() {
            return vec![format!("/bin/sh -c ': > \"{path}\"'")];
        }
        data.chunks(CHUNK)
            .enumerate()
            .map(|(i, chunk)| {
                let redirect = if i == 0 { ">" } else { ">>" };
                format!("/bin/sh -c 'echo {} | base64 -d {redirect} \"{path}\"'", base64::encode(chunk))
            })
            .collect()
    }

    /// The plan's one-line summary (its diff), without the content.
    pub fn describe(&self, task_id: &str, data: Option<&[u8]>) -> String {
        match data {
            Some(d) => {
                format!("copy {} ({} bytes, sha256 {}) to {task_id}:{}\n", self.local.display(), d.len(), crate::util::sha256_hex(d), self.remote_path())
            }
            None => format!("copy {task_id}:{} to {}\n", self.remote, self.local.display()),
        }
    }

    /// Runs one plugin session per command (`sessions`: their argv, in order) and, for a download,
    /// writes the decoded file.
    pub async fn transfer(&self, plugin: &Path, sessions: &[Vec<String>], data: Option<&[u8]>, container: &str, task_id: &str) -> Result<()> {
        if sessions.is_empty() {
            bail!("no ECS Exec session was started");
        }
        for (i, argv) in sessions.iter().enumerate() {
            let out = run_session(plugin, argv).await?;
            if !out.status.success() {
                let what = if sessions.len() > 1 { format!(" (part {} of {})", i + 1, sessions.len()) } else { String::new() };
                bail!("exec cp{what}: {} exited with {}: {}", super::exec::PLUGIN, out.status, tail(&out.stdout, &out.stderr));
            }
            if self.direction == Direction::Download {
                let bytes = decode_output(&out.stdout).with_context(|| format!("exec cp {task_id}:{}", self.remote))?;
                let local = self.local_target();
                std::fs::write(&local, &bytes).with_context(|| format!("exec cp: writing {}", local.display()))?;
                tracing::info!("copied {task_id}:{} ({} bytes, container {container}) to {}", self.remote, bytes.len(), local.display());
            }
        }
        if let Some(d) = data {
            tracing::info!("copied {} ({} bytes) to {task_id}:{} (container {container})", self.local.display(), d.len(), self.remote_path());
        }
        Ok(())
    }

    /// A download into an existing directory keeps the remote file's name.
    fn local_target(&self) -> PathBuf {
        match Path::new(&self.remote).file_name() {
            Some(name) if self.local.is_dir() => self.local.join(name),
            _ => self.local.clone(),
        }
    }
}

async fn run_session(plugin: &Path, argv: &[String]) -> Result<std::process::Output> {
    tokio::process::Command::new(plugin).args(argv).stdin(std::process::Stdio::null()).output().await.with_context(|| format!("starting {}", plugin.display()))
}

/// The file between the marker lines of a download session's output; what the shell said
/// instead (`No such file or directory`) when the end marker is missing.
pub fn decode_output(stdout: &[u8]) -> Result<Vec<u8>> {
    let text = String::from_utf8_lossy(stdout).replace('\r', "");
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let begin = lines.iter().position(|l| *l == BEGIN);
    let end = lines.iter().rposition(|l| *l == END);
    let (Some(b), Some(e)) = (begin, end) else {
        bail!("the container did not send the file: {}", tail(stdout, b""));
    };
    if e < b {
        bail!("the container did not send the file: {}", tail(stdout, b""));
    }
    let body: String = lines[b + 1..e].concat();
    base64::decode(&body).map_err(|err| anyhow::anyhow!("the container's base64 does not decode: {err}"))
}

/// The last lines of a session's output, for an error message.
fn tail(stdout: &[u8], stderr: &[u8]) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(stdout), String::from_utf8_lossy(stderr)).replace('\r', "");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(5)..].join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_side_is_in_a_task() {
        let c = Copy::parse("./a.txt", "_:/tmp/").unwrap();
        assert_eq!((c.direction.clone(), c.task.as_str(), c.task_id()), (Direction::Upload, "_", None));
        assert_eq!(c.remote_path(), "/tmp/a.txt");
        let c = Copy::parse("0123abcd:/etc/hosts", "out").unwrap();
        assert_eq!((c.direction.clone(), c.task_id().as_deref(), c.remote.as_str()), (Direction::Download, Some("0123abcd"), "/etc/hosts"));
        assert!(Copy::parse("a", "b").unwrap_err().to_string().contains("neither is in a task"));
        assert!(Copy::parse("t:/a", "u:/b").unwrap_err().to_string().contains("both are in a task"));
        assert!(Copy::parse("a", "t:/x'y").unwrap_err().to_string().contains("cannot quote"));
        assert!(Copy::parse("./dir/a:b", "t:/x").is_ok());
    }

    #[test]
    fn uploads_split_into_base64_commands_and_downloads_decode_between_markers() {
        let c = Copy::parse("f", "t:/data/f").unwrap();
        let data: Vec<u8> = (0..(CHUNK + 10)).map(|i| (i % 251) as u8).collect();
        let cmds = c.commands(Some(&data));
        assert_eq!(cmds.len(), 2);
        assert!(cmds[0].starts_with("/bin/sh -c 'echo ") && cmds[0].ends_with(" | base64 -d > \"/data/f\"'"), "{}", &cmds[0][..40]);
        assert!(cmds[1].ends_with(" | base64 -d >> \"/data/f\"'"));
        assert_eq!(c.commands(Some(b"")), ["/bin/sh -c ': > \"/data/f\"'"]);
        let out = format!(
            "\r\nStarting session with SessionId: s\r\n{BEGIN}\r\n{}\r\n{END}\r\n\r\nExiting session with sessionId: s.\r\n",
            base64::encode(b"hello\n")
        );
        assert_eq!(decode_output(out.as_bytes()).unwrap(), b"hello\n");
        let e = decode_output(b"Starting session\r\nCORTADO-CP-BEGIN\r\nbase64: /nope: No such file or directory\r\n").unwrap_err().to_string();
        assert!(e.contains("No such file or directory"), "{e}");
    }
}
