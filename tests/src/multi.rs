//! One xcarp serving many instances from a configuration file
//! (docs/config.md) on a host of a [`Lan`](crate::lan::Lan), asked for its
//! state through `xcarp status --json` (docs/status.md).
use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs,
    net::Ipv4Addr,
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use crate::{
    ProcessGuard,
    carp::{
        TempDir, down_script, hanging_up_script, kill_pids, recorded_pids, up_script, write_script,
    },
    lan::{DEV, Host},
    log::Log,
    wait_until, xcarp_bin,
};

/// One `[[instance]]` of a generated file.
#[derive(Clone, Debug)]
pub struct InstanceConf {
    pub vhid: u8,
    pub addresses: Vec<Ipv4Addr>,
    pub advskew: u8,
    pub preempt: bool,
    /// The up-script hangs (records its pid, sleeps) instead of adding the
    /// addresses.
    pub hanging_upscript: bool,
    /// TOML appended to the instance's table: more keys, then its
    /// `[[instance.check]]` tables (see [`check_toml`]).
    pub extra: String,
}

impl InstanceConf {
    pub fn new(vhid: u8, address: Ipv4Addr, advskew: u8) -> Self {
        Self {
            vhid,
            addresses: vec![address],
            advskew,
            preempt: true,
            hanging_upscript: false,
            extra: String::new(),
        }
    }
}

/// One `[[instance.check]]` table for [`InstanceConf::extra`]: `program`
/// every `interval` seconds, killed after `timeout`, failing after `fall`
/// failed runs, recovering after `rise` passing ones.
#[must_use]
pub fn check_toml(
    name: &str,
    program: &std::path::Path,
    interval: f64,
    timeout: f64,
    fall: u32,
    rise: u32,
) -> String {
    format!(
        "[[instance.check]]\nname = \"{name}\"\ncommand = [\"{}\"]\ninterval = {interval:?}\n\
         timeout = {timeout:?}\nfall = {fall}\nrise = {rise}\n",
        program.display()
    )
}

/// Port of the metrics endpoint, on the host's own address.
pub const METRICS_PORT: u16 = 9420;

/// The address of VIP `n` (1..=255) of these tests: 10.99.2.n.
#[must_use]
pub fn vip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 99, 2, n)
}

/// An xcarp running `--config` in a host's namespace. Killed (with its
/// scripts) on drop; its log is printed if the test is failing.
pub struct ConfigDaemon {
    pub label: String,
    /// The xcarp binary (also the `xcarp status` client).
    pub binary: PathBuf,
    env: Vec<(String, String)>,
    pub ns: String,
    pub addr: Ipv4Addr,
    pub log: Log,
    dir: TempDir,
    process: Option<ProcessGuard>,
}

impl ConfigDaemon {
    /// Writes the configuration for `instances` on `host` and starts xcarp
    /// with it.
    pub fn start(host: &Host, instances: &[InstanceConf]) -> Self {
        Self::start_binary(host, &xcarp_bin(), instances)
    }

    /// [`ConfigDaemon::start`] with an explicit binary.
    pub fn start_binary(host: &Host, binary: &std::path::Path, instances: &[InstanceConf]) -> Self {
        Self::start_with_env(host, binary, instances, &[])
    }

    /// [`ConfigDaemon::start_binary`] with environment variables for the
    /// daemon (NOTIFY_SOCKET, say).
    pub fn start_with_env(
        host: &Host,
        binary: &std::path::Path,
        instances: &[InstanceConf],
        env: &[(&str, &str)],
    ) -> Self {
        let dir = TempDir::new("cfg");
        let daemon = Self {
            label: format!("xcarp --config @{}", host.addr),
            binary: binary.to_path_buf(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ns: host.ns.name.clone(),
            addr: host.addr,
            log: Log::default(),
            dir,
            process: None,
        };
        let marker = daemon.marker_path();
        write_script(&daemon.path("up.sh"), &up_script(&marker));
        write_script(
            &daemon.path("hang.sh"),
            &hanging_up_script(&marker, &daemon.path("script-pids")),
        );
        write_script(&daemon.path("down.sh"), &down_script(&marker));
        daemon.write_config(instances);
        let mut daemon = daemon;
        daemon.spawn();
        daemon
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    pub fn config_path(&self) -> PathBuf {
        self.path("xcarp.toml")
    }

    pub fn socket_path(&self) -> PathBuf {
        self.path("status.sock")
    }

    /// The file the scripts append `up <if> <vip>` / `down <if> <vip>` to.
    pub fn marker_path(&self) -> PathBuf {
        self.path("marker")
    }

    pub fn marker(&self) -> Vec<String> {
        fs::read_to_string(self.marker_path())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// (Re)writes the configuration file (a reload reads it on SIGHUP).
    pub fn write_config(&self, instances: &[InstanceConf]) {
        self.write_raw_config(&self.config_text(instances));
    }

    /// Writes the configuration for `instances` and reloads it (SIGHUP).
    pub fn reload(&self, instances: &[InstanceConf]) {
        self.write_config(instances);
        self.signal(libc::SIGHUP);
    }

    pub fn write_raw_config(&self, text: &str) {
        let path = self.config_path();
        let tmp = self.path("xcarp.toml.new");
        fs::write(&tmp, text).expect("write the configuration");
        fs::rename(&tmp, &path).expect("put the configuration in place");
    }

    fn config_text(&self, instances: &[InstanceConf]) -> String {
        let mut text = format!(
            "[global]\nstatus_socket = \"{socket}\"\nscript_timeout = 5\n\
             metrics_listen = \"{addr}:{METRICS_PORT}\"\n\n\
             [defaults]\ninterface = \"{DEV}\"\nsrcip = \"{addr}\"\npassword = \"love\"\n\
             downscript = \"{down}\"\n\n",
            socket = self.socket_path().display(),
            addr = self.addr,
            down = self.path("down.sh").display(),
        );
        for i in instances {
            let addresses: Vec<String> = i.addresses.iter().map(|a| format!("\"{a}\"")).collect();
            let up = if i.hanging_upscript {
                "hang.sh"
            } else {
                "up.sh"
            };
            let _ = write!(
                text,
                "[[instance]]\nname = \"vip{vhid}\"\nvhid = {vhid}\naddresses = [{addrs}]\n\
                 advskew = {skew}\npreempt = {preempt}\nupscript = \"{up}\"\n{extra}\n",
                vhid = i.vhid,
                addrs = addresses.join(", "),
                skew = i.advskew,
                preempt = i.preempt,
                up = self.path(up).display(),
                extra = i.extra,
            );
        }
        text
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns])
            .arg("env")
            .args(self.env.iter().map(|(k, v)| format!("{k}={v}")))
            .arg(&self.binary)
            .arg("--config")
            .arg(self.config_path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut guard = ProcessGuard::spawn(cmd);
        self.log
            .follow(guard.child.stdout.take().expect("stdout piped"));
        self.log
            .follow(guard.child.stderr.take().expect("stderr piped"));
        self.process = Some(guard);
    }

    /// Starts the daemon again (after [`ConfigDaemon::kill`]), with a fresh
    /// log.
    pub fn restart(&mut self) {
        self.kill();
        self.log = Log::default();
        self.spawn();
    }

    pub fn pid(&self) -> Option<i32> {
        self.process.as_ref().map(ProcessGuard::pid)
    }

    pub fn signal(&self, signal: i32) {
        if let Some(p) = &self.process {
            p.signal(signal);
        }
    }

    /// Waits up to `timeout` for the daemon to exit; its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.process.as_mut()?.wait_exit(timeout)
    }

    /// Whether the daemon's process is still running.
    pub fn running(&mut self) -> bool {
        self.process
            .as_mut()
            .is_some_and(|p| matches!(p.child.try_wait(), Ok(None)))
    }

    /// Waits (polling every millisecond) until the process runs xcarp
    /// itself, not `ip netns exec` or `env`, which exec it: the moment a
    /// start-up timing counts from.
    pub fn wait_exec(&self, timeout: Duration) -> bool {
        let Some(pid) = self.pid() else {
            return false;
        };
        let comm = format!("/proc/{pid}/comm");
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if fs::read_to_string(&comm).is_ok_and(|c| c.trim() == "xcarp") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.signal(libc::SIGKILL);
            let _ = p.wait_exit(Duration::from_secs(5));
        }
    }

    /// `xcarp status --json`, parsed; None while the daemon does not answer.
    pub fn status(&self) -> Option<serde_json::Value> {
        let out = Command::new(&self.binary)
            .args(["status", "--json", "--socket"])
            .arg(self.socket_path())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// `xcarp status` with another format (`--prometheus`, or none for the
    /// table).
    pub fn status_text(&self, format: Option<&str>) -> String {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("status");
        if let Some(f) = format {
            cmd.arg(f);
        }
        let out = cmd
            .arg("--socket")
            .arg(self.socket_path())
            .output()
            .expect("run xcarp status");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Each instance's state by VHID ("MASTER", "BACKUP", "INIT").
    pub fn states(&self) -> BTreeMap<u8, String> {
        let Some(status) = self.status() else {
            return BTreeMap::new();
        };
        status["instances"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|i| {
                        let vhid = u8::try_from(i["vhid"].as_u64()?).ok()?;
                        Some((vhid, i["state"].as_str()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// VHIDs in MASTER.
    pub fn masters(&self) -> Vec<u8> {
        self.states()
            .into_iter()
            .filter(|(_, s)| s == "MASTER")
            .map(|(v, _)| v)
            .collect()
    }

    /// Waits until the daemon reports exactly `vhids` as MASTER (and the
    /// rest of its instances as BACKUP).
    pub fn wait_masters(&self, vhids: &[u8], timeout: Duration) -> bool {
        wait_until(timeout, || self.masters() == vhids)
    }

    /// Pids the hanging up-script recorded.
    pub fn script_pids(&self) -> Vec<i32> {
        recorded_pids(&self.path("script-pids"))
    }
}

/// Which of `addresses` the host's interface holds.
#[must_use]
pub fn held(host: &Host, addresses: &[Ipv4Addr]) -> Vec<Ipv4Addr> {
    let out = crate::try_sh(
        "ip",
        &[
            "-n",
            &host.ns.name,
            "-4",
            "-o",
            "addr",
            "show",
            "dev",
            &host.dev,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    addresses
        .iter()
        .copied()
        .filter(|a| text.contains(&format!(" {a}/")))
        .collect()
}

impl Drop for ConfigDaemon {
    fn drop(&mut self) {
        self.kill();
        kill_pids(&self.script_pids());
        if std::thread::panicking() {
            eprintln!(
                "==== log of {} ====\n{}\n==== marker ====\n{}",
                self.label,
                self.log.text(),
                self.marker().join("\n")
            );
        }
    }
}
