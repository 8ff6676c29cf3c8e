//! Human-readable and JSON output of the CLI. Attacker-controlled strings go through
//! [`display_raw`], so a hostile path or reason cannot break a table or forge a line.

use std::io::Write;

use serde::Serialize;

use crate::actions::BanOutcome;
use crate::error::{Error, Result};
use crate::ip::display_raw;
use crate::report::{BanView, Status, TrackerView};
use crate::store::state::AuditEntry;
use crate::time::{rfc3339, short, Timestamp};

/// Prints `value` as JSON, or as text through `text`.
pub fn print<T: Serialize + ?Sized>(json: bool, value: &T, text: fn(&T) -> String) -> Result<()> {
    let s = if json {
        serde_json::to_string_pretty(value).map_err(|e| Error::io("writing JSON", std::io::Error::other(e)))?
    } else {
        text(value)
    };
    line(&s)
}

/// Prints one line (or block) to stdout; a closed pipe is not an error worth a panic.
pub fn line(s: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", s.trim_end_matches('\n'));
    Ok(())
}

fn t(ts: Option<Timestamp>) -> String {
    ts.map(short).unwrap_or_else(|| "-".into())
}

/// `status` as text.
pub fn status_text(s: &Status) -> String {
    format!(
        "bans in force:   {} ({} permanent, {} temporary)\nsuspicious IPs:  {}\nnear threshold:  {}",
        s.total_bans, s.permanent_bans, s.temporary_bans, s.suspicious_ips, s.near_threshold
    )
}

/// `check` as text: failures first, each with why, the fix and what was seen; then the summary.
/// Checks that could not be made for a reason already given (a missing `.env` stops a dozen) are
/// listed on one line each.
pub fn check_text(r: &crate::check::Report) -> String {
    let mut out = String::new();
    let mut reasons: Vec<&str> = Vec::new();
    for f in &r.findings {
        out.push_str(&format!("{:<4}  {:<28} {}\n", f.status.word(), f.id, f.title));
        if f.status == crate::check::Status::Pass {
            continue;
        }
        if let Some(reason) = f.reason.as_deref().filter(|_| f.status == crate::check::Status::Unknown) {
            if reasons.contains(&reason) {
                continue;
            }
            reasons.push(reason);
        }
        out.push_str(&format!("      why: {}\n", f.why));
        if let Some(reason) = &f.reason {
            out.push_str(&format!("      could not check: {reason}\n"));
        }
        if !f.fix.is_empty() {
            out.push_str(&format!("      fix: {}\n", f.fix));
        }
        if let Some(e) = &f.evidence {
            out.push_str(&format!("      seen: {e}\n"));
        }
    }
    out.push_str(&r.one_line());
    out
}

/// `bans` as text.
pub fn bans_text(bans: &Vec<BanView>) -> String {
    if bans.is_empty() {
        return "no bans in force".into();
    }
    let mut out =
        format!("{:<40} {:<21} {:<21} {:>5}  {:<16} {}\n", "IP", "BANNED AT", "EXPIRES", "COUNT", "BY", "REASON");
    for b in bans {
        let expires = if b.permanent { "permanent".into() } else { t(b.expires_at) };
        out.push_str(&format!(
            "{:<40} {:<21} {:<21} {:>5}  {:<16} {}\n",
            display_raw(&b.ip),
            t(b.banned_at),
            expires,
            b.ban_count.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
            display_raw(b.created_by.as_deref().unwrap_or("-")),
            display_raw(b.reason.as_deref().unwrap_or("")),
        ));
    }
    out
}

/// `trackers` as text.
pub fn trackers_text(rows: &Vec<TrackerView>) -> String {
    if rows.is_empty() {
        return "no addresses being counted".into();
    }
    let mut out = format!("{:<40} {:<4} {:>9}  {:<21} {}\n", "IP", "KIND", "COUNT", "LAST", "PATHS / KEY HASHES");
    for r in rows {
        let items = r.paths.as_ref().or(r.key_hashes.as_ref()).map(|v| v.join(" ")).unwrap_or_default();
        out.push_str(&format!(
            "{:<40} {:<4} {:>9}  {:<21} {}\n",
            display_raw(&r.ip),
            r.kind.as_str(),
            format!("{}/{}", r.count, r.threshold),
            t(r.last_at),
            display_raw(&items)
        ));
    }
    out
}

/// `audit` as text.
pub fn audit_text(rows: &Vec<AuditEntry>) -> String {
    if rows.is_empty() {
        return "no manual actions yet".into();
    }
    let mut out = String::new();
    for a in rows {
        out.push_str(&format!(
            "{} {:<4} {:<10} {:<40} {} {}\n",
            rfc3339(a.at),
            a.actor,
            a.action,
            display_raw(a.ip.as_deref().unwrap_or("-")),
            display_raw(a.detail.as_deref().unwrap_or("")),
            a.reason.as_deref().map(|r| format!("({})", display_raw(r))).unwrap_or_default()
        ));
    }
    out
}

/// The confirmation line of a manual ban.
pub fn ban_text(b: &BanOutcome) -> String {
    let how = match b.expires_at {
        Some(e) => format!("until {}", rfc3339(e)),
        None => "permanently".into(),
    };
    format!("banned {} {how} (ban_count {}); OpenAlgo refuses it with a 403 within 60 s", b.ip, b.ban_count)
}

/// When a policy ends, in words.
pub fn policy_ends(p: &crate::policy::Policy) -> String {
    match p.expires_at {
        Some(t) => format!("until {}", rfc3339(t)),
        None => "until removed".into(),
    }
}

/// The time left until `t`, shortly: `2d 3h`, `45m`, `12s`.
pub fn left(t: Timestamp, now: Timestamp) -> String {
    let s = (t - now).num_seconds().max(0);
    match s {
        s if s >= 86_400 => format!("{}d {}h", s / 86_400, s % 86_400 / 3_600),
        s if s >= 3_600 => format!("{}h {}m", s / 3_600, s % 3_600 / 60),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `policy list` as text.
pub fn policies_text(list: &Vec<crate::policy::Policy>, now: Timestamp) -> String {
    if list.is_empty() {
        return "no access policies".into();
    }
    let mut out = format!("{:<5}  {:<42} {:<16} {:<3}  {}\n", "", "value", "time left", "by", "reason");
    for p in list {
        let ends = p.expires_at.map(|t| left(t, now)).unwrap_or_else(|| "until removed".into());
        out.push_str(&format!(
            "{:<5}  {:<42} {:<16} {:<3}  {}\n",
            p.policy.as_str(),
            crate::policy::text(&p.value),
            ends,
            p.created_by,
            display_raw(&p.reason)
        ));
    }
    out
}

/// `enforce status` and `enforce apply` as text.
pub fn sinks_text(list: &[crate::enforce::SinkStatus]) -> String {
    let mut out = String::new();
    for s in list {
        let applied = s.applied_at.map(rfc3339).unwrap_or_else(|| "-".into());
        out.push_str(&format!("{:<9} {:<8} {:>7} refused  applied {applied}", s.name, s.state.as_str(), s.entries));
        if let Some(e) = &s.error {
            out.push_str(&format!("\n          {}", display_raw(e)));
        }
        out.push('\n');
    }
    out
}

/// `whitelist enable --dry-run` as text.
pub fn allow_only_plan_text(p: &crate::access::AllowOnlyPlan) -> String {
    let admitted: Vec<String> = p.admitted.iter().map(crate::policy::text).collect();
    let mut out = format!("allow-list-only mode would admit only: {}\n", admitted.join(", "));
    if p.refused.is_empty() {
        out.push_str("no address of the last 24 h would be refused\n");
    } else {
        out.push_str(&format!("{} address(es) of the last 24 h would be refused:\n", p.refused.len()));
        for (ip, n) in &p.refused {
            out.push_str(&format!("  {:<40} {n} request(s)\n", display_raw(ip)));
        }
    }
    if let Some(why) = &p.blocked {
        out.push_str(&format!("and it cannot be turned on now: {why}\n"));
    }
    out
}

/// `replay` as text.
pub fn replay_text(r: &crate::replay::ReplayReport) -> String {
    let mut out = format!("{} lines, {} did not parse\n", r.lines, r.unparsed);
    out.push_str(&format!("\n{} ban(s):\n", r.bans.len()));
    for b in &r.bans {
        let how = if b.permanent { "permanently".to_string() } else { format!("until {}", t(b.expires_at)) };
        out.push_str(&format!("  {}  {:<40} {how}: {}\n", short(b.at), b.ip, display_raw(&b.reason)));
    }
    out.push_str(&format!("\n{} near a threshold:\n", r.near.len()));
    for n in r.near.iter().take(50) {
        out.push_str(&format!("  {}  {:<40} {} of {} {}\n", short(n.at), n.ip, n.count, n.threshold, n.rule.noun()));
    }
    if !r.notices.is_empty() {
        out.push_str(&format!("\n{} other notice(s):\n", r.notices.len()));
        for n in r.notices.iter().take(50) {
            out.push_str(&format!("  {n}\n"));
        }
    }
    out.push_str("\ntop offenders (404 / invalid key / failed login):\n");
    for o in &r.top {
        out.push_str(&format!(
            "  {:<40} {:>7}  ({} / {} / {})\n",
            o.ip, o.total, o.counts.not_found, o.counts.invalid_keys, o.counts.failed_logins
        ));
    }
    if !r.unparsed_samples.is_empty() {
        out.push_str("\nlines that did not parse (first ones):\n");
        for s in &r.unparsed_samples {
            out.push_str(&format!("  {s}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::check::{Finding, Report, Status};

    fn unknown(id: &'static str, reason: &str) -> Finding {
        Finding {
            id,
            title: id,
            status: Status::Unknown,
            why: format!("why {id}"),
            fix: String::new(),
            evidence: None,
            reason: Some(reason.into()),
        }
    }

    #[test]
    fn a_reason_shared_by_several_unknown_checks_is_given_once() {
        let r = Report::new(vec![
            unknown("env.a", "cannot read /x/.env: No such file"),
            unknown("env.b", "cannot read /x/.env: No such file"),
            unknown("net.c", "cannot read /proc/net/tcp"),
        ]);
        let text = super::check_text(&r);
        assert_eq!(text.matches("could not check: cannot read /x/.env").count(), 1, "{text}");
        assert_eq!(text.matches("could not check: cannot read /proc/net/tcp").count(), 1, "{text}");
        for id in ["env.a", "env.b", "net.c"] {
            assert!(text.contains(&format!("????  {id}")), "every check is still listed: {text}");
        }
    }
}
