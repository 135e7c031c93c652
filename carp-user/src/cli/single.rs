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

/// What the single-instance daemon cannot run yet.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotSingle {
    #[error(
        "serving several instances in one process is not available yet ({0} instances): \
         run one xcarp per instance for now"
    )]
    SeveralInstances(usize),
    #[error("the configuration has no instance")]
    NoInstance,
    #[error(
        "instance {name}: several addresses on one VHID are not available yet ({count} addresses)"
    )]
    SeveralAddresses { name: String, count: usize },
    #[error(
        "instance {name}: adverts tagged with a VLAN (vlan = {vlan}) are not available yet: \
         run the instance on the VLAN's own interface"
    )]
    Vlan { name: String, vlan: u16 },
}

impl Config {
    /// The single instance of `settings`, as the daemon takes it.
    ///
    /// # Errors
    /// More (or fewer) than one instance, several addresses, or a VLAN tag.
    pub fn from_settings(settings: Settings) -> Result<Self, NotSingle> {
        let Settings {
            global,
            instances,
            warnings,
        } = settings;
        let count = instances.len();
        let mut instances = instances.into_iter();
        let (Some(instance), None) = (instances.next(), instances.next()) else {
            return Err(if count == 0 {
                NotSingle::NoInstance
            } else {
                NotSingle::SeveralInstances(count)
            });
        };
        let [address] = instance.addresses.as_slice() else {
            return Err(NotSingle::SeveralAddresses {
                name: instance.name,
                count: instance.addresses.len(),
            });
        };
        if instance.vlan != 0 {
            return Err(NotSingle::Vlan {
                name: instance.name,
                vlan: instance.vlan,
            });
        }
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
