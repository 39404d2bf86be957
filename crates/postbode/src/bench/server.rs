//! The server under test, as a child process: the same binary, `serve`, on a free port
//! of 127.0.0.1 with a data directory of its own. Its memory is read from
//! `/proc/<pid>/status` while it runs.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How long a fresh server may take to answer `/health`.
const STARTUP_LIMIT: Duration = Duration::from_secs(60);
/// How long a server may take to stop after SIGTERM before it is killed.
const STOP_LIMIT: Duration = Duration::from_secs(60);
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(200);

/// How to start the child.
pub struct ServerOptions {
    pub data_dir: PathBuf,
    pub admin_token: String,
    /// `delivery.paused`: accept events, send nothing (to build a backlog).
    pub paused: bool,
    /// Extra `POSTBODE_*` settings from `--server-env`, applied last.
    pub extra_env: Vec<(String, String)>,
}

/// What a child used: memory in bytes, and processor time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// `VmHWM`: the kernel's own peak resident set size.
    pub peak: Option<u64>,
    /// The largest `VmRSS` seen by sampling.
    pub sampled_max: u64,
    /// `VmRSS` just before the stop.
    pub last: Option<u64>,
    /// User and system time over its whole life, all threads.
    pub cpu: Option<Duration>,
}

pub struct ServerChild {
    child: Child,
    pid: u32,
    pub base_url: String,
    /// How long it took from spawning to the first good `/health`.
    pub startup: Duration,
    log_path: PathBuf,
    rss_max: Arc<AtomicU64>,
    rss_now: Arc<AtomicU64>,
    sampler: tokio::task::JoinHandle<()>,
}

impl ServerChild {
    /// Spawns `postbode serve` and waits until it answers `/health`.
    pub async fn start(options: &ServerOptions, http: &reqwest::Client) -> anyhow::Result<Self> {
        let spawned_at = Instant::now();
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let exe = std::env::current_exe().context("finding the postbode binary to start the server")?;
        // One log per start, so the second run of a backlog does not overwrite the first.
        let log_path = next_log_path(&options.data_dir);
        let log = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let mut command = Command::new(exe);
        command
            .arg("serve")
            .arg("--listen")
            .arg(&listen)
            .arg("--data-dir")
            .arg(&options.data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            // If the bench fails half-way, the server must not outlive it.
            .kill_on_drop(true);
        // The caller's own Postbode settings (a config file, a database URL) must not leak
        // into the measured server.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("POSTBODE_") {
                command.env_remove(name);
            }
        }
        command
            .env("POSTBODE_ADMIN_TOKEN", &options.admin_token)
            // The tracking URLs in messages are made from it, and the opens scenario calls them.
            .env("POSTBODE_PUBLIC_URL", format!("http://{listen}"))
            .env("POSTBODE_DELIVERY__ALLOW_PRIVATE_TARGETS", "true")
            .env("POSTBODE_WEBHOOKS__REQUIRE_VERIFICATION", "false")
            .env(
                "POSTBODE_DELIVERY__PAUSED",
                if options.paused { "true" } else { "false" },
            )
            .env("POSTBODE_LOG", "warn")
            // A start-up error in the log should be its message, not an anyhow backtrace
            // that the tail shown on failure would cut to frames.
            .env("RUST_LIB_BACKTRACE", "0");
        for (name, value) in &options.extra_env {
            command.env(name, value);
        }
        let mut child = command.spawn().context("starting the postbode server")?;
        let pid = child.id().context("the server exited at once")?;
        let base_url = format!("http://{listen}");
        if let Err(e) = wait_healthy(&mut child, &base_url, http).await {
            let _ = child.kill().await;
            return Err(e.context(format!("the server did not start; its log:\n{}", log_tail(&log_path))));
        }
        let startup = spawned_at.elapsed();
        let rss_max = Arc::new(AtomicU64::new(0));
        let rss_now = Arc::new(AtomicU64::new(0));
        let sampler = tokio::spawn(sample_rss(pid, rss_max.clone(), rss_now.clone()));
        Ok(Self {
            child,
            pid,
            base_url,
            startup,
            log_path,
            rss_max,
            rss_now,
            sampler,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The latest sampled `VmRSS`, in bytes (0 before the first sample).
    pub fn rss_gauge(&self) -> Arc<AtomicU64> {
        self.rss_now.clone()
    }

    /// Stops the server with SIGTERM (a graceful stop: everything it answered 202 to is
    /// committed) and returns what it used, read just before.
    pub async fn stop(mut self) -> anyhow::Result<Usage> {
        self.sampler.abort();
        let status = read_status(self.pid);
        let memory = Usage {
            peak: status.as_deref().and_then(|s| status_kb(s, "VmHWM")),
            last: status.as_deref().and_then(|s| status_kb(s, "VmRSS")),
            sampled_max: self.rss_max.load(Ordering::Relaxed),
            cpu: cpu_time(self.pid),
        };
        let signalled = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await
            .is_ok_and(|status| status.success());
        if !signalled {
            self.child.kill().await.context("stopping the server")?;
        }
        match tokio::time::timeout(STOP_LIMIT, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(memory),
            Ok(Ok(status)) => anyhow::bail!(
                "the server ended with {status} when asked to stop; its log:\n{}",
                log_tail(&self.log_path)
            ),
            Ok(Err(e)) => Err(e).context("waiting for the server to stop"),
            Err(_) => {
                self.child.kill().await.context("killing the server")?;
                anyhow::bail!("the server did not stop within {STOP_LIMIT:?} of SIGTERM and was killed")
            }
        }
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        // The child itself is killed by `kill_on_drop` when the bench fails half-way.
        self.sampler.abort();
    }
}

/// A port nobody listens on right now. The listener is dropped before the server binds
/// it; another process taking it in between is possible but unlikely on a test machine.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn next_log_path(dir: &Path) -> PathBuf {
    (1..)
        .map(|n| dir.join(format!("server-{n}.log")))
        .find(|path| !path.exists())
        .unwrap_or_else(|| dir.join("server.log"))
}

async fn wait_healthy(child: &mut Child, base_url: &str, http: &reqwest::Client) -> anyhow::Result<()> {
    let deadline = Instant::now() + STARTUP_LIMIT;
    let url = format!("{base_url}/health");
    loop {
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("the server exited with {status}");
        }
        let answer = http.get(&url).timeout(Duration::from_secs(1)).send().await;
        if answer.is_ok_and(|response| response.status().is_success()) {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("no healthy answer from {url} within {STARTUP_LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn sample_rss(pid: u32, max: Arc<AtomicU64>, now: Arc<AtomicU64>) {
    let mut tick = tokio::time::interval(RSS_SAMPLE_EVERY);
    loop {
        tick.tick().await;
        if let Some(rss) = read_status(pid).as_deref().and_then(|s| status_kb(s, "VmRSS")) {
            now.store(rss, Ordering::Relaxed);
            max.fetch_max(rss, Ordering::Relaxed);
        }
    }
}

pub(super) fn read_status(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status")).ok()
}

/// A `Name:   1234 kB` line of `/proc/<pid>/status`, in bytes.
pub(super) fn status_kb(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(':')?;
        let kb = value.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
        Some(kb * 1024)
    })
}

/// User plus system time of a whole process, from `/proc/<pid>/stat` (or `self`).
pub fn cpu_time(pid: impl std::fmt::Display) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_cpu(&stat)
}

/// Processor time used so far by each process named `postgres` on this machine, by pid:
/// a PostgreSQL server on this machine serves the nodes from processes of its own.
pub fn postgres_cpu() -> std::collections::HashMap<u32, Duration> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Default::default();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == "postgres"))
        .filter_map(|pid| Some((pid, cpu_time(pid)?)))
        .collect()
}

/// What PostgreSQL's processes used since `before` (a process that ended meanwhile is
/// not counted; the nodes' connections live through the run).
pub fn postgres_cpu_since(before: &std::collections::HashMap<u32, Duration>) -> Duration {
    postgres_cpu()
        .into_iter()
        .map(|(pid, now)| now.saturating_sub(before.get(&pid).copied().unwrap_or_default()))
        .sum()
}

/// Fields 14 and 15 (`utime`, `stime`) of a stat line, counted after the command name,
/// which may itself hold spaces and parentheses. They are in USER_HZ ticks, which the
/// kernel fixes at 100 a second for user space.
fn stat_cpu(stat: &str) -> Option<Duration> {
    const USER_HZ: u64 = 100;
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}

/// The end of a server log, for error messages.
pub fn log_tail(path: &Path) -> String {
    const LINES: usize = 20;
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(LINES)..].join("\n");
            if tail.is_empty() { "(empty)".into() } else { tail }
        }
        Err(e) => format!("(could not read {}: {e})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_read_in_bytes() {
        let status = "Name:\tpostbode\nVmHWM:\t   54321 kB\nVmRSS:\t    1000 kB\n";
        assert_eq!(status_kb(status, "VmHWM"), Some(54321 * 1024));
        assert_eq!(status_kb(status, "VmRSS"), Some(1000 * 1024));
        assert_eq!(status_kb(status, "VmSwap"), None);
    }

    #[test]
    fn processor_time_is_read_after_the_command_name() {
        let stat = "42 (post bode) S 1 42 42 0 -1 4194560 1 0 0 0 250 130 0 0 20 0 9 0 1 2 3";
        assert_eq!(stat_cpu(stat), Some(Duration::from_millis(3800)));
        assert!(cpu_time("self").is_some());
    }

    #[test]
    fn this_process_has_a_resident_set() {
        let status = read_status(std::process::id()).unwrap();
        assert!(status_kb(&status, "VmRSS").unwrap() > 0);
    }
}
