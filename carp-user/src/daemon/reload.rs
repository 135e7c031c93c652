//! SIGHUP with a configuration file (docs/config.md, "Reload"): the new
//! file is applied whole or not at all, and an instance keeps its state
//! through any change but one of its identity (interface, VLAN, VHID).
//!
//! The file and its effect on this host are checked before anything
//! changes (the loader's [`crate::config::host::check`]); then what can
//! still fail is done first and undone on failure: the keys, the new
//! interfaces (XDP attachment, link watch, sender), the multicast groups,
//! the kernel entries of changed instances. Only then are instances
//! removed, changed in place and added.
use std::net::Ipv4Addr;

use super::{Daemon, instance::InstanceSpec, net::GroupMembership};
use crate::{auth::CarpAuth, config::Password, xdp::VhidSettings};

/// What a reload does, decided from the running instances and the new file.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ReloadPlan {
    /// Running instance id → index of the spec of the same identity in the
    /// new list: updated in place (unchanged ones too, at no cost).
    pub update: Vec<(u64, usize)>,
    pub remove: Vec<u64>,
    /// Indices of new specs to start.
    pub add: Vec<usize>,
}

/// Pairs running instances with the new specs by identity (interface,
/// VLAN, VHID; unique on both sides): a pair is updated in place, a running
/// instance without a partner removed, a spec without one added.
pub(super) fn reload_plan<'a>(
    running: impl Iterator<Item = (u64, &'a InstanceSpec)>,
    new: &[(InstanceSpec, Password)],
) -> ReloadPlan {
    let mut plan = ReloadPlan::default();
    let mut matched = vec![false; new.len()];
    for (id, spec) in running {
        match new
            .iter()
            .position(|(candidate, _)| candidate.same_identity(spec))
        {
            Some(i) => {
                matched[i] = true;
                plan.update.push((id, i));
            }
            None => plan.remove.push(id),
        }
    }
    plan.add = (0..new.len()).filter(|i| !matched[*i]).collect();
    plan
}

/// What the kernel checks for one instance (docs/xdp.md).
pub(super) fn vhid_settings<'a>(spec: &'a InstanceSpec, auth: &'a CarpAuth) -> VhidSettings<'a> {
    VhidSettings {
        vhid: spec.vhid,
        vlan: spec.vlan,
        group: spec.group,
        broadcast: spec.nomcast,
        own_addrs: std::slice::from_ref(&spec.srcip),
        hmac: auth.kernel_hmac(),
        ring_budget: carp_common::RING_BUDGET_PER_SECOND,
        reject_replays: spec.replay_protection,
    }
}

/// What a reload set up before changing any instance, to undo if a later
/// step fails.
#[derive(Default)]
struct Prepared {
    /// Interfaces the daemon did not serve yet.
    links: Vec<u32>,
    /// Multicast groups joined, by interface.
    memberships: Vec<(u32, Ipv4Addr)>,
}

fn rejected(e: &dyn std::fmt::Display) {
    tracing::error!("reload rejected, the running instances are kept: {e}");
}

impl Daemon {
    /// SIGHUP with a configuration file, once the file is read and
    /// checked off the loop ([`super::loading`]): applies it whole, or, if
    /// anything in it or its effect on this host fails, changes nothing
    /// (the reasons are logged).
    pub(super) async fn reload(&mut self, loaded: super::LoadResult) {
        match loaded {
            Ok(specs) => self.apply_reload(specs).await,
            Err(e) => super::loading::log_rejection(&e),
        }
    }

    /// Applies a file read and checked by the loader (its host checks
    /// included): whole, or not at all.
    pub(super) async fn apply_reload(&mut self, specs: Vec<(InstanceSpec, Password)>) {
        let keys: Result<Vec<CarpAuth>, String> = specs
            .iter()
            .map(|(spec, password)| {
                CarpAuth::new(password.as_bytes(), spec.vhid, &spec.addrs())
                    .map_err(|e| format!("{}: {e}", spec.name))
            })
            .collect();
        let keys = match keys {
            Ok(keys) => keys,
            Err(e) => return rejected(&e),
        };
        let plan = reload_plan(self.instances.values().map(|i| (i.id, &i.spec)), &specs);
        let prepared = match self.prepare(&specs, &plan).await {
            Ok(prepared) => prepared,
            Err((prepared, e)) => {
                self.undo(prepared);
                return rejected(&e);
            }
        };
        if let Err(e) = self.write_kernel_entries(&specs, &keys, &plan) {
            self.undo(prepared);
            return rejected(&e);
        }

        // Applied from here on: what could fail is in place (the keys, the
        // links, the groups, the kernel entries of changed instances).
        for id in &plan.remove {
            self.remove_instance(*id);
        }
        let mut changed = 0;
        for (id, index) in &plan.update {
            let changes = self.update_instance(*id, &specs[*index].0, keys[*index].clone());
            if !changes.is_empty() {
                changed += 1;
                tracing::info!(
                    "{}: changed in place ({})",
                    specs[*index].0.name,
                    changes.join(", ")
                );
            }
        }
        let mut added = 0;
        for index in &plan.add {
            let (spec, password) = &specs[*index];
            // Its interface and group are in place: only a failure of the
            // kernel's own (never expected) can stop it.
            match self.add_instance(spec.clone(), password).await {
                Ok(_) => added += 1,
                Err(e) => tracing::error!("{}: cannot start: {e}", spec.name),
            }
        }
        self.read_ring_after_key_changes();
        self.drop_unused_links_and_groups();
        tracing::info!(
            "reloaded: {} instance(s) kept, {} stopped, {added} started; {changed} changed in place",
            plan.update.len(),
            plan.remove.len()
        );
    }

    /// Sets up the interfaces and multicast groups the new file needs and
    /// the daemon lacks, before any instance changes. On failure, returns
    /// what was set up so far, for [`Self::undo`].
    async fn prepare(
        &mut self,
        specs: &[(InstanceSpec, Password)],
        plan: &ReloadPlan,
    ) -> Result<Prepared, (Prepared, String)> {
        let mut prepared = Prepared::default();
        let mut joins: Vec<(u32, &InstanceSpec)> = Vec::new();
        for index in &plan.add {
            let spec = &specs[*index].0;
            let known = self
                .links
                .values()
                .any(|l| l.interface.name == spec.interface);
            match self.ensure_link(spec).await {
                Ok(ifindex) => {
                    if !known {
                        prepared.links.push(ifindex);
                    }
                    joins.push((ifindex, spec));
                }
                Err(e) => return Err((prepared, format!("{}: {e}", spec.name))),
            }
        }
        for (id, index) in &plan.update {
            if let Some(instance) = self.instances.get(id) {
                joins.push((instance.ifindex, &specs[*index].0));
            }
        }
        for (ifindex, spec) in joins {
            let Some(link) = self.links.get_mut(&ifindex) else {
                continue;
            };
            if spec.nomcast || link.memberships.contains_key(&spec.group) {
                continue;
            }
            match GroupMembership::join(spec.group, ifindex) {
                Ok(membership) => {
                    link.memberships.insert(spec.group, membership);
                    prepared.memberships.push((ifindex, spec.group));
                }
                Err(e) => return Err((prepared, format!("{}: {e}", spec.name))),
            }
        }
        Ok(prepared)
    }

    /// Takes back what [`Self::prepare`] set up.
    fn undo(&mut self, prepared: Prepared) {
        for (ifindex, group) in prepared.memberships {
            if let Some(link) = self.links.get_mut(&ifindex) {
                link.memberships.remove(&group);
            }
        }
        for ifindex in prepared.links {
            self.drop_link(ifindex);
        }
    }

    /// Gives the kernel the new settings of each changed instance that it
    /// checks (one map update each, atomic for the XDP program). If one
    /// fails, those written are written back and the reload is rejected.
    fn write_kernel_entries(
        &mut self,
        specs: &[(InstanceSpec, Password)],
        keys: &[CarpAuth],
        plan: &ReloadPlan,
    ) -> Result<(), String> {
        let Some(attachment) = &mut self.attachment else {
            return Ok(());
        };
        let mut written: Vec<u64> = Vec::new();
        let mut failure = None;
        for (id, index) in &plan.update {
            let Some(instance) = self.instances.get(id) else {
                continue;
            };
            let Some(link) = self.links.get(&instance.ifindex) else {
                continue;
            };
            let (spec, key) = (&specs[*index].0, &keys[*index]);
            let kernel_view = |s: &InstanceSpec| (s.srcip, s.group, s.nomcast, s.replay_protection);
            if !link.xdp
                || (kernel_view(&instance.spec) == kernel_view(spec)
                    && instance.auth().digest(0) == key.digest(0))
            {
                continue;
            }
            match attachment.configure_vhid_on(instance.ifindex, vhid_settings(spec, key)) {
                Ok(()) => written.push(*id),
                Err(e) => {
                    failure = Some(format!("{}: {e}", spec.name));
                    break;
                }
            }
        }
        let Some(failure) = failure else {
            return Ok(());
        };
        for id in written {
            if let Some(instance) = self.instances.get(&id) {
                let settings = vhid_settings(&instance.spec, instance.auth());
                if let Err(e) = attachment.configure_vhid_on(instance.ifindex, settings) {
                    tracing::error!("{}: restoring its kernel entry: {e}", instance.spec.name);
                }
            }
        }
        Err(failure)
    }

    /// Applies `spec` to running instance `id` in place (the kernel has its
    /// entry already); returns the settings that changed.
    fn update_instance(
        &mut self,
        id: u64,
        spec: &InstanceSpec,
        key: CarpAuth,
    ) -> Vec<&'static str> {
        let now = self.now();
        let Some(instance) = self.instances.get_mut(&id) else {
            return Vec::new();
        };
        let mut changes = instance.spec.changes(spec);
        if instance.auth().digest(0) != key.digest(0) && !changes.contains(&"addresses") {
            changes.push("password");
        }
        if let Some(link) = self.links.get(&instance.ifindex) {
            instance.reconfigure(now, spec.clone(), key, link.running, &link.output());
        }
        if let Some(level) =
            self.health
                .update(id, &spec.name, &spec.checks, &spec.track_interfaces)
        {
            self.set_demotion(id, level);
        }
        changes
    }

    /// Reads the adverts the kernel queued while the keys changed, each
    /// checked with the key it was taken with; then only the new keys count.
    fn read_ring_after_key_changes(&mut self) {
        let mut records = Vec::new();
        if let Some(ring) = &mut self.ring
            && let Err(e) = ring.drain_into(&mut records)
        {
            // The loop's next read meets it again and decides.
            tracing::debug!("reading the ring after a reload: {e}");
        }
        for record in &records {
            self.on_record(record);
        }
        for instance in self.instances.values_mut() {
            instance.forget_previous_key();
        }
    }

    /// Forgets the interfaces and the multicast groups no instance uses any
    /// more (the XDP program is detached there).
    fn drop_unused_links_and_groups(&mut self) {
        let ifindexes: Vec<u32> = self.links.keys().copied().collect();
        for ifindex in ifindexes {
            self.drop_link(ifindex);
        }
        for (ifindex, link) in &mut self.links {
            link.memberships.retain(|group, _| {
                self.instances
                    .values()
                    .any(|i| i.ifindex == *ifindex && !i.spec.nomcast && i.spec.group == *group)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{engine, xdp::AttachMode};

    fn spec(vhid: u8, advskew: u8) -> InstanceSpec {
        InstanceSpec {
            name: format!("vhid {vhid}"),
            interface: "eth0".into(),
            vlan: 0,
            vhid,
            srcip: Ipv4Addr::new(192, 0, 2, 1),
            group: Ipv4Addr::new(224, 0, 0, 18),
            nomcast: false,
            addresses: vec![(Ipv4Addr::new(192, 0, 2, 100 + vhid), "vip".into())],
            advbase: 1,
            advskew,
            deadratio: 3,
            preempt: false,
            neutral: false,
            shutdown: false,
            ignore_ifstate: false,
            upscript: None,
            downscript: None,
            xparam: None,
            tie_break: engine::TieBreak::default(),
            replay_protection: true,
            xdp_mode: AttachMode::Auto,
            script_timeout: Duration::from_secs(10),
            checks: Vec::new(),
            track_interfaces: Vec::new(),
        }
    }

    fn password(p: &str) -> Password {
        Password::new(p.as_bytes())
    }

    #[test]
    fn reload_updates_instances_of_the_same_identity_whatever_changed() {
        let running = [spec(1, 0), spec(2, 0), spec(3, 0), spec(4, 0), spec(6, 0)];
        let mut renamed = spec(1, 0);
        renamed.name = "web".into();
        renamed.upscript = Some("/etc/xcarp/up".into());
        let mut readdressed = spec(3, 0);
        readdressed
            .addresses
            .push((Ipv4Addr::new(192, 0, 2, 9), "x".into()));
        let mut moved = spec(6, 0);
        moved.interface = "eth1".into();
        let new = vec![
            // 1: its name and script changed; 2: another skew; 3: another
            // password and one more address: all three updated in place.
            (renamed, password("pw")),
            (spec(2, 100), password("pw")),
            (readdressed, password("other")),
            // 4: gone. 5: new. 6: on another interface: another identity.
            (spec(5, 0), password("pw")),
            (moved, password("pw")),
        ];
        let plan = reload_plan(running.iter().zip(10..).map(|(s, id)| (id, s)), &new);
        assert_eq!(
            plan,
            ReloadPlan {
                update: vec![(10, 0), (11, 1), (12, 2)],
                remove: vec![13, 14],
                add: vec![3, 4],
            }
        );
    }

    #[test]
    fn changes_name_the_keys_that_differ() {
        let old = spec(1, 0);
        assert!(old.changes(&old.clone()).is_empty());
        let mut new = spec(1, 10);
        new.xparam = Some("x".into());
        new.addresses[0].1 = "192.0.2.101".into();
        assert_eq!(old.changes(&new), ["advskew", "scripts"]);
        new.vhid = 2;
        assert!(!old.same_identity(&new));
    }
}
