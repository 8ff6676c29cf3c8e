//! Carrying out verdicts: writing bans, giving notices once, retrying what could not be written,
//! and the per-minute traffic summary.

use super::{Monitor, Notice};
use crate::engine::{alert_key, later, BanOrder, Verdict, WINDOW};
use crate::event::{Source, Tracker};
use crate::store::logs_db::{BanWrite, NewBan, TrafficRow};
use crate::store::state::Offence;
use crate::time::Timestamp;

impl Monitor {
    pub(super) fn act(&mut self, verdict: Verdict, now: Timestamp, out: &mut Vec<Notice>) {
        match verdict {
            // A ban from history (a first-start backfill) that has already run out.
            Verdict::Ban(order) if order.expires_at().is_some_and(|end| end <= now) => self.engine.forget_ban(&order),
            Verdict::Ban(order) => {
                // The kernel and nginx first: they refuse the client at once, while the write to
                // logs.db below waits for the disk.
                self.enforce(now, out);
                self.write_ban(order, out)
            }
            Verdict::Near(n) => {
                let key = alert_key("near", n.ip, n.rule, n.window_start);
                // The state file carries the once-per-window promise across restarts.
                if self.state.alert_once(&key, now, later(n.window_start, WINDOW)).unwrap_or(true) {
                    out.extend(Notice::from_verdict(Verdict::Near(n)));
                }
            }
            other => out.extend(Notice::from_verdict(other)),
        }
    }

    pub(super) fn write_ban(&mut self, order: BanOrder, out: &mut Vec<Notice>) {
        let canonical = order.ip.to_string();
        let mut ips = vec![canonical.clone()];
        if order.raw != canonical && !order.raw.is_empty() {
            ips.push(order.raw.clone());
        }
        let ban = NewBan {
            ips: ips.clone(),
            reason: order.reason.clone(),
            length: order.length,
            at: order.at,
            created_by: order.rule.created_by().into(),
            offence: order.offence,
        };
        let Some(db) = self.logs.db_mut() else {
            self.postpone(order, "logs.db is not open".into(), out);
            return;
        };
        match db.write_ban(&ban) {
            Ok(BanWrite::Written { ban_count }) => {
                if let Some(cs) = self.crowdsec.as_mut() {
                    // Known before logs.db is read again: the push names the rule.
                    cs.created_by.insert(order.ip, order.rule.created_by().to_string());
                }
                if let (Source::Openalgo, Some(tracker)) = (order.source, Tracker::of(order.rule)) {
                    // OpenAlgo clears its tracker after a ban; so does Warden.
                    for ip in &ips {
                        let _ = db.clear_tracker(tracker, ip);
                    }
                }
                self.settled(order.ip, out);
                let offence = (!order.alias).then(|| Offence {
                    ip: canonical.clone(),
                    rule: order.rule.as_str().into(),
                    at: order.at,
                    until: order.expires_at(),
                    source: "warden".into(),
                    reason: Some(order.reason.clone()),
                });
                if let Some(Err(e)) = offence.map(|o| self.state.record_offence(&o)) {
                    out.push(self.state_failing(&e));
                }
                self.widen_ipv6(order.ip, order.at, out);
                out.push(Notice::Banned {
                    ip: canonical,
                    rows: ips,
                    rule: order.rule,
                    expires_at: order.expires_at(),
                    reason: order.reason,
                    count: order.count,
                    threshold: order.threshold,
                    offence: order.offence,
                    ban_count,
                    permanent: order.length.is_permanent(),
                    source: order.source,
                    at: order.at,
                });
            }
            Ok(BanWrite::AlreadyStronger) => {
                self.settled(order.ip, out);
                // Usually this very ban, written before a crash and ordered again from the
                // re-read lines: its offence (keyed by the request's time) is recorded once.
                if !order.alias {
                    let offence = Offence {
                        ip: canonical,
                        rule: order.rule.as_str().into(),
                        at: order.at,
                        until: order.expires_at(),
                        source: "warden".into(),
                        reason: Some(order.reason.clone()),
                    };
                    if let Err(e) = self.state.record_offence(&offence) {
                        out.push(self.state_failing(&e));
                    }
                }
            }
            Err(e) => self.postpone(order, e.to_string(), out),
        }
    }

    /// Keeps a ban that could not be written: held in the engine (so no second order is made for
    /// the same client) and retried every tick. The notice is given once, not on every retry.
    fn postpone(&mut self, order: BanOrder, error: String, out: &mut Vec<Notice>) {
        if !self.retrying {
            out.push(Notice::BanPending { ip: order.ip.to_string(), error });
        }
        self.engine.hold(order.ip, order.expires_at());
        if let Err(e) = self.state.save_pending(&order) {
            out.push(self.state_failing(&e));
        }
        self.pending.insert(order.ip, order);
    }

    /// A ban is settled (written, or a stronger one was there): it no longer waits.
    /// After a ban of an IPv6 address: once [`crate::config::RulesConfig::ipv6_prefix_after`]
    /// addresses of its `/64` are banned at once, refuses the whole `/64` with a deny entry that
    /// lasts as long as the longest of those bans. Never for a `/64` that holds a protected address
    /// (the trader's own, an allowed one): [`crate::policy::deny_refusal`] decides, as for any deny.
    fn widen_ipv6(&mut self, ip: std::net::IpAddr, now: Timestamp, out: &mut Vec<Notice>) {
        let std::net::IpAddr::V6(v6) = ip else { return };
        if self.ipv6_prefix_after < 2 || v6.to_ipv4_mapped().is_some() {
            return;
        }
        let Ok(net) = ipnet::IpNet::new(ip, 64).map(|n| n.trunc()) else { return };
        if self.enforcement.policies.iter().any(|p| p.value.contains(&net)) {
            return;
        }
        let inside: Vec<Option<Timestamp>> = self
            .engine
            .bans_in_force(now)
            .into_iter()
            .filter(|(b, _)| net.contains(b))
            .map(|(_, until)| until)
            .collect();
        if inside.len() < self.ipv6_prefix_after as usize
            || crate::policy::deny_refusal(&net, self.engine.protection()).is_some()
        {
            return;
        }
        let until = if inside.iter().any(Option::is_none) { None } else { inside.iter().flatten().max().copied() };
        let policy = crate::policy::Policy {
            value: net,
            policy: crate::policy::Access::Deny,
            ttl_seconds: until.map(|u| u64::try_from((u - now).num_seconds().max(1)).unwrap_or(1)),
            expires_at: until,
            created_at: now,
            reason: format!("{} addresses of this /64 banned: one IPv6 host", inside.len()),
            created_by: "warden".into(),
        };
        match self.state.put_policy(&policy) {
            // Picked up with the other policies at the start of the next round.
            Ok(()) => out.push(Notice::RangeDenied {
                range: crate::policy::text(&net),
                banned: inside.len(),
                expires_at: until,
            }),
            Err(e) => out.push(self.state_failing(&e)),
        }
    }

    fn settled(&mut self, ip: std::net::IpAddr, out: &mut Vec<Notice>) {
        self.engine.release(ip);
        if self.was_pending.remove(&ip) {
            if let Err(e) = self.state.drop_pending(ip) {
                out.push(self.state_failing(&e));
            }
        }
    }

    pub(super) fn retry_pending(&mut self, now: Timestamp, out: &mut Vec<Notice>) {
        if self.pending.is_empty() || self.logs.db_mut().is_none() {
            return;
        }
        self.retrying = true;
        for (ip, mut order) in std::mem::take(&mut self.pending) {
            self.was_pending.insert(ip);
            // A ban that waited still lasts its full length from when it is written.
            order.at = now;
            self.write_ban(order, out);
        }
        self.retrying = false;
    }

    pub(super) fn count_traffic(&mut self, row: &TrafficRow, now: Timestamp, out: &mut Vec<Notice>) {
        let secs = row.at.unwrap_or(now).timestamp();
        self.traffic_minutes.add_from(secs, row.status, &row.ip);
        self.traffic_rows += 1;
        let minute = secs / 60;
        if self.minute.start.is_some_and(|m| m != minute) {
            self.close_minute(now, true, out);
        }
        let m = &mut self.minute;
        m.start.get_or_insert(minute);
        m.requests += 1;
        match row.status {
            404 => m.not_found += 1,
            401 | 403 => m.denied += 1,
            500..=599 => m.errors += 1,
            _ => {}
        }
    }

    pub(super) fn close_minute(&mut self, now: Timestamp, force: bool, out: &mut Vec<Notice>) {
        let Some(start) = self.minute.start else { return };
        if !force && now.timestamp() / 60 == start {
            return;
        }
        let m = std::mem::take(&mut self.minute);
        out.push(Notice::Traffic { requests: m.requests, not_found: m.not_found, denied: m.denied, errors: m.errors });
    }
}
