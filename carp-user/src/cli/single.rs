//! A flat view of the single instance the command line describes, for
//! the command-line tests: each option's effect reads as one field.
use std::{net::Ipv4Addr, path::PathBuf, time::Duration};

use crate::{
    config::{Facility, Password, Settings, TieBreak},
    xdp::AttachMode,
};

/// The validated configuration the daemon runs with: one instance.
#[derive(Clone, Debug)]
pub struct Config {
    pub interface: Option<String>,
    pub srcip: Ipv4Addr,
    pub group: Ipv4Addr,
    pub vhid: u8,
    pub password: Password,
    pub preempt: bool,
    pub neutral: bool,
    pub vip: Ipv4Addr,
    /// The address exactly as typed, passed to the scripts (as ucarp does).
    pub vip_arg: String,
    pub advbase: u8,
    pub advskew: u8,
    pub upscript: Option<PathBuf>,
    pub downscript: Option<PathBuf>,
    pub deadratio: u32,
    pub debug: bool,
    pub shutdown: bool,
    pub daemonize: bool,
    pub ignore_ifstate: bool,
    pub nomcast: bool,
    pub facility: Facility,
    pub xparam: Option<String>,
    pub xdp_mode: AttachMode,
    pub script_timeout: Duration,
    pub pidfile: Option<PathBuf>,
    pub tie_break: TieBreak,
    /// `--replay-protection` (docs/xdp.md, "Freshness").
    pub replay_protection: bool,
    /// Problems that do not stop the daemon (a password file others can
    /// read), to log once logging is set up.
    pub warnings: Vec<String>,
}

impl Config {
    /// The single instance the command line describes.
    ///
    /// # Errors
    /// A description of what is not one instance with one address.
    pub fn from_settings(settings: Settings) -> Result<Self, String> {
        let Settings {
            global,
            instances,
            warnings,
        } = settings;
        let [instance] = <[_; 1]>::try_from(instances)
            .map_err(|all| format!("{} instances, not one", all.len()))?;
        let [address] = instance.addresses.as_slice() else {
            return Err(format!("{} addresses, not one", instance.addresses.len()));
        };
        Ok(Self {
            vip: address.addr,
            vip_arg: address.typed.clone(),
            interface: instance.interface,
            srcip: instance.srcip,
            group: instance.group,
            vhid: instance.vhid,
            password: instance.password,
            preempt: instance.preempt,
            neutral: instance.neutral,
            advbase: instance.advbase,
            advskew: instance.advskew,
            upscript: instance.upscript,
            downscript: instance.downscript,
            deadratio: instance.deadratio,
            debug: global.debug,
            shutdown: instance.shutdown,
            daemonize: global.daemonize,
            ignore_ifstate: instance.ignore_ifstate,
            nomcast: instance.nomcast,
            facility: global.facility,
            xparam: instance.xparam,
            xdp_mode: instance.xdp_mode.into(),
            script_timeout: global.script_timeout,
            pidfile: global.pidfile,
            tie_break: instance.tie_break,
            replay_protection: instance.replay_protection,
            warnings,
        })
    }
}
