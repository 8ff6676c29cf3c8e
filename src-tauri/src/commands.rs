//! The commands the UI may call. Each is a one-liner into [`warden::dashboard::Desk`] (through
//! [`Shell::call`], which runs it off the async runtime's threads); `build.rs` lists the same names
//! so the capability file can allow exactly these.

use tauri::{AppHandle, Runtime, State};
use warden::actions::BanOutcome;
use warden::dashboard::channels::{ChannelForm, CrowdsecForm, IncidentView};
use warden::dashboard::host::{HostBanResult, HostPreview};
use warden::dashboard::overview::Overview;
use warden::dashboard::settings::SettingsForm;
use warden::dashboard::traffic::{IpDetail, TrafficFilter, TrafficPage};
use warden::dashboard::{DeskError, TrackerRow};
use warden::report::BanView;
use warden::store::state::AuditEntry;

use crate::shell::lock;
use crate::Shell;

type Reply<T> = Result<T, DeskError>;

#[tauri::command]
pub async fn overview<R: Runtime>(app: AppHandle<R>, shell: State<'_, Shell>) -> Reply<Overview> {
    let pulse = shell.pulse();
    let checks = shell.cached_checklist().map(|r| r.summary);
    let reply = shell.call(move |d, now| d.overview_with(now, pulse.map(|p| lock(&p).clone()).as_ref())).await;
    shell.seed_after_first_overview(&app);
    reply.map(|ov| match checks {
        Some(s) => ov.with_checklist(s),
        None => ov,
    })
}

/// The server checklist: the one the monitor keeps up to date, or (with `fresh`, the Check again
/// button, or with no monitor running) run now.
#[tauri::command]
pub async fn checklist(shell: State<'_, Shell>, fresh: Option<bool>) -> Reply<warden::check::Report> {
    if !fresh.unwrap_or(false) {
        if let Some(r) = shell.cached_checklist() {
            return Ok(r);
        }
    }
    let report = shell.call(|d, _| Ok(d.checklist())).await?;
    shell.remember_checklist(&report);
    Ok(report)
}

#[tauri::command]
pub async fn access(shell: State<'_, Shell>) -> Reply<warden::dashboard::access::AccessView> {
    shell.call(|d, now| d.access(now)).await
}

#[tauri::command]
pub async fn add_policy(
    shell: State<'_, Shell>,
    policy: String,
    value: String,
    ttl: String,
    reason: String,
) -> Reply<warden::policy::Policy> {
    shell.call(move |d, now| d.add_policy(&policy, &value, &ttl, &reason, now)).await
}

#[tauri::command]
pub async fn remove_policy(shell: State<'_, Shell>, value: String) -> Reply<warden::policy::Policy> {
    shell.call(move |d, now| d.remove_policy(&value, now)).await
}

#[tauri::command]
pub async fn allow_only_plan(shell: State<'_, Shell>) -> Reply<warden::access::AllowOnlyPlan> {
    shell.call(|d, now| d.allow_only_plan(now)).await
}

#[tauri::command]
pub async fn set_allow_only(shell: State<'_, Shell>, on: bool) -> Reply<bool> {
    shell.call(move |d, now| d.set_allow_only(on, now)).await
}

#[tauri::command]
pub async fn bans(shell: State<'_, Shell>) -> Reply<Vec<BanView>> {
    shell.call(|d, now| d.bans(now)).await
}

#[tauri::command]
pub async fn trackers(shell: State<'_, Shell>) -> Reply<Vec<TrackerRow>> {
    shell.call(|d, now| d.tracker_rows(now)).await
}

#[tauri::command]
pub async fn traffic(shell: State<'_, Shell>, filter: TrafficFilter) -> Reply<TrafficPage> {
    shell.call(move |d, _| d.traffic(&filter)).await
}

#[tauri::command]
pub async fn ip_detail(shell: State<'_, Shell>, ip: String) -> Reply<IpDetail> {
    shell.call(move |d, now| d.ip_detail(&ip, now)).await
}

#[tauri::command]
pub async fn ban_ip(shell: State<'_, Shell>, ip: String, reason: String, duration: String) -> Reply<BanOutcome> {
    shell.call(move |d, now| d.ban(&ip, &reason, &duration, now)).await
}

#[tauri::command]
pub async fn unban_ip(shell: State<'_, Shell>, ip: String) -> Reply<usize> {
    shell.call(move |d, now| d.unban(&ip, now)).await
}

#[tauri::command]
pub async fn clear_tracker(shell: State<'_, Shell>, ip: String, kind: String) -> Reply<usize> {
    shell.call(move |d, now| d.clear(&ip, &kind, now)).await
}

#[tauri::command]
pub async fn host_preview(shell: State<'_, Shell>, host: String) -> Reply<HostPreview> {
    shell.call(move |d, _| d.host_preview(&host)).await
}

#[tauri::command]
pub async fn ban_host(
    shell: State<'_, Shell>,
    host: String,
    reason: String,
    duration: String,
    ips: Vec<String>,
) -> Reply<HostBanResult> {
    shell.call(move |d, now| d.ban_host(&host, &reason, &duration, &ips, now)).await
}

#[tauri::command]
pub async fn settings(shell: State<'_, Shell>) -> Reply<SettingsForm> {
    shell.call(|d, _| Ok(d.settings())).await
}

#[tauri::command]
pub async fn save_settings<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    settings: SettingsForm,
) -> Reply<SettingsForm> {
    shell.save_settings(&app, settings).await
}

/// Successful sign-ins to OpenAlgo and the open sessions.
#[tauri::command]
pub async fn signins(shell: State<'_, Shell>, limit: usize) -> Reply<warden::logins::SignIns> {
    shell.call(move |d, _| d.signins(limit)).await
}

/// Failed sign-ins per address in the last `hours`.
#[tauri::command]
pub async fn incidents(shell: State<'_, Shell>, hours: u32) -> Reply<Vec<IncidentView>> {
    shell.call(move |d, now| d.incidents(hours, now)).await
}

/// Tries CrowdSec's Local API as the Settings form describes it.
#[tauri::command]
pub async fn test_crowdsec(shell: State<'_, Shell>, crowdsec: CrowdsecForm) -> Reply<String> {
    shell.call(move |d, now| d.test_crowdsec(&crowdsec, now)).await
}

/// Sends a test alert through a channel as the Settings form describes it.
#[tauri::command]
pub async fn test_alert(shell: State<'_, Shell>, channel: ChannelForm) -> Reply<String> {
    shell.call(move |d, now| d.test_channel(&channel, now)).await
}

#[tauri::command]
pub async fn audit(shell: State<'_, Shell>, limit: usize) -> Reply<Vec<AuditEntry>> {
    shell.call(move |d, _| d.audit(limit)).await
}

#[tauri::command]
pub async fn choose_file<R: Runtime>(app: AppHandle<R>, title: String) -> Reply<Option<String>> {
    crate::events::choose_file(app, title).await
}
