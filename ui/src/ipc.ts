// The only module that talks to Rust. Views import the functions and types below; the string
// `invoke("…")` appears nowhere else. The types mirror the Rust structs in `src/dashboard/` (the
// engine crate) and `src-tauri/src/commands.rs`; the desktop crate's tests check every command's
// JSON shape against these names.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

/** RFC 3339 UTC, e.g. "2026-11-22T02:14:41Z". */
export type Time = string;

/** `404`, `api`, `login` or `rate`. */
export type Rule = "404" | "api" | "login" | "rate";

/** Where an observation came from. */
export type Source = "openalgo" | "proxy";

/** The state of a source. */
export type Health = HealthOk | HealthProblem;

/** A source read successfully. */
export interface HealthOk {
  state: "ok";
}

/** A source that cannot be read, and why in words. */
export interface HealthProblem {
  state: "missing" | "no_schema" | "locked" | "failing";
  detail: string;
}

/** The error every command rejects with. `fields` is set for `invalid_settings`. */
export interface CommandError {
  kind: "invalid_input" | "protected" | "not_found" | "invalid_settings" | "failed";
  message: string;
  fields?: Record<string, string>;
}

export interface Status {
  total_bans: number;
  permanent_bans: number;
  temporary_bans: number;
  suspicious_ips: number;
  near_threshold: number;
}

export interface SourceView {
  /** "logs.db", "openalgo.db", "state.db" or "access log". */
  name: string;
  path: string;
  health: Health;
  /** For access logs: the format, and the bytes read so far. */
  detail: string | null;
}

export interface Warning {
  /** Stable id, e.g. "auto_ban_off", "one_client_ip". */
  id: string;
  /** "info" | "warn" | "danger". */
  level: "info" | "warn" | "danger";
  title: string;
  text: string;
}

export interface OpenAlgoSettings {
  /** Whether OpenAlgo bans by itself; null when openalgo.db could not be read. */
  auto_ban: boolean | null;
  not_found_threshold: number | null;
  not_found_ban_hours: number | null;
  api_threshold: number | null;
  api_ban_hours: number | null;
  repeat_offender_limit: number | null;
  /** Value of TRUST_PROXY_HEADERS from OpenAlgo's .env beside openalgo.db; null if unknown. */
  trust_proxy_headers: boolean | null;
}

export interface MinuteBucket {
  /** Start of the minute. */
  at: Time;
  ok: number; // 1xx-3xx
  not_found: number; // 404
  denied: number; // 401, 403
  other_4xx: number;
  errors: number; // 5xx
}

export interface Offender {
  ip: string;
  /** 404s + invalid keys in the live windows. */
  score: number;
  not_found: number;
  api: number;
  banned: boolean;
  /** Why it can never be banned; null if it can. */
  protected: string | null;
}

export interface Overview {
  status: Status;
  sources: SourceView[];
  openalgo: OpenAlgoSettings | null;
  warnings: Warning[];
  /** The last 60 minutes, oldest first, one bucket per minute (empty minutes included). */
  per_minute: MinuteBucket[];
  /** Where per_minute was counted: "access log" (nginx sees every request), "logs.db" or "none". */
  per_minute_source: string;
  top: Offender[];
  /** Thresholds in force, for "16 of 20" displays. */
  not_found_threshold: number;
  api_threshold: number;
  near_fraction: number;
  /** Set when the app runs on the demo workspace: the banner text. */
  demo: string | null;
  /** How the server checklist last came out, when the monitor runs it. */
  checklist: CheckSummary | null;
  /** Allow-list-only mode is on: say so on every view. */
  allow_only: boolean;
  /** The enforcement points beyond logs.db that are configured (nginx, nftables). */
  sinks: SinkStatus[];
}

/** An enforcement point and how it is doing. */
export interface SinkStatus {
  /** "nginx" or "nftables". */
  name: string;
  state: "working" | "failing" | "off";
  /** Ranges and addresses refused there. */
  entries: number;
  applied_at: Time | null;
  error: string | null;
}

/** One access policy. */
export interface Policy {
  /** The address or range, canonical. */
  value: string;
  policy: "allow" | "deny";
  ttl_seconds: number | null;
  expires_at: Time | null;
  created_at: Time;
  reason: string;
  created_by: string;
}

/** The Access policy view. */
export interface AccessView {
  policies: Policy[];
  allow_only: boolean;
  /** What the mode admits (or would). */
  admitted: string[];
  sinks: SinkStatus[];
}

/** What turning allow-list-only mode on would do. */
export interface AllowOnlyPlan {
  admitted: string[];
  /** [address, requests] of the last 24 h that would be refused, busiest first. */
  refused: [string, number][];
  /** Why it cannot be turned on now, if it cannot. */
  blocked: string | null;
}

export interface BanView {
  ip: string;
  reason: string | null;
  banned_at: Time | null;
  expires_at: Time | null;
  permanent: boolean;
  ban_count: number | null;
  created_by: string | null;
  /** Where it came from: "this server (Warden)", "another Warden (server-a)", "CrowdSec (scenario)"… */
  origin: string;
}

export interface TrackerView {
  ip: string;
  kind: Rule;
  count: number;
  threshold: number;
  first_at: Time | null;
  last_at: Time | null;
  /** 404 entries only: paths tried (attacker-controlled text). */
  paths?: string[];
  /** API entries only: hashes of the keys tried. */
  key_hashes?: string[];
  source: Source;
  /** Whether a ban of this address is in force (the `trackers` command sets it). */
  banned?: boolean;
  /** Why this address can never be banned (loopback, private, allow-list, not an IP); null if it can. */
  protected?: string | null;
}

export interface TrafficFilter {
  /** Exact address, or null. */
  ip: string | null;
  /** "2xx" | "3xx" | "4xx" | "404" | "5xx" | a number as text, or null. */
  status: string | null;
  /** Substring of the path, host or user agent, or null. */
  text: string | null;
  /** At most this many rows, newest first (the app caps it at 100 000): the page size. */
  limit: number;
  /** Where the page starts: null for the newest, else the `older` cursor of the page before. */
  before?: TrafficCursor | null;
}

/** Where a page of traffic ends in each source (opaque to the UI: it is sent back as is). */
export interface TrafficCursor {
  logs_db: number | null;
  access: (number | null)[];
}

/** One page of the Traffic view. */
export interface TrafficPage {
  /** Newest first. */
  rows: TrafficRow[];
  /** The cursor of the next, older page; null when there is nothing older. */
  older: TrafficCursor | null;
}

export interface TrafficRow {
  at: Time | null;
  ip: string;
  method: string;
  path: string;
  status: number;
  host: string | null;
  user_agent: string | null;
  /** "logs.db" or the access log's file name. */
  source: string;
}

export interface TimelineItem {
  at: Time | null;
  /** "request" | "ban" | "tracker" | "offence" | "audit". */
  kind: string;
  text: string;
}

export interface IpDetail {
  ip: string;
  /** Why this address can never be banned, in words; null if it can. */
  protected: string | null;
  bans: BanView[];
  trackers: TrackerView[];
  offences: number;
  timeline: TimelineItem[];
}

export type DurationChoice = "24h" | "48h" | "1w" | "permanent";

export interface BanOutcome {
  ip: string;
  rows: string[];
  permanent: boolean;
  expires_at: Time | null;
  ban_count: number;
}

export interface HostCandidate {
  ip: string;
  /** "dns", "traffic" or both. */
  from: string[];
  /** Why it will be skipped, or null. */
  protected: string | null;
}

export interface HostPreview {
  host: string;
  candidates: HostCandidate[];
  /** DNS failure in words, if any (traffic matches may still exist). */
  dns_error: string | null;
}

export interface HostBanResult {
  banned: BanOutcome[];
  /** The addresses not banned, and why. */
  skipped: Skipped[];
}

export interface Skipped {
  ip: string;
  why: string;
}

export interface AccessLogSetting {
  path: string;
  format: string;
}

export interface Settings {
  logs_db: string;
  openalgo_db: string;
  access_logs: AccessLogSetting[];
  /** "warden" (the numbers below) or "openalgo" (follow OpenAlgo's settings). */
  thresholds: "warden" | "openalgo";
  not_found_threshold: number;
  not_found_ban_hours: number;
  api_threshold: number;
  api_ban_hours: number;
  repeat_offender_limit: number;
  allow: string[];
  near_fraction: number;
  notify_near: boolean;
  notify_banned: boolean;
  notify_sources: boolean;
  notify_checklist: boolean;
  notify_attack: boolean;
  notify_signin_new_address: boolean;
  notify_signin: boolean;
  /** Failed sign-ins from one address in 24 h that make an attack. */
  login_auth_attempts: number;
  /** How long an attack is banned, in seconds (0 = permanent). */
  login_deny_seconds: number;
  /** Alert channels beyond the desktop. */
  alerts: ChannelForm[];
  /** Sharing bans through CrowdSec's Local API. */
  crowdsec: CrowdsecForm;
  /** Read-only: where these settings are saved. */
  config_path: string | null;
}

/** The [crowdsec] section in Settings. */
export interface CrowdsecForm {
  enabled: boolean;
  url: string;
  /** The machine's credentials file (what `cscli machines add NAME -f FILE` wrote). */
  credentials: string;
  /** A file holding the bouncer key (what `cscli bouncers add NAME -o raw` printed). */
  bouncer_key_file: string;
  push: boolean;
  pull: boolean;
  pull_seconds: number;
  /** Origins to enforce; empty: all. */
  origins: string[];
}

/** What a channel can be told about. */
export type AlertEvent = "banned" | "near" | "attack" | "signin_new_address" | "signin" | "health" | "checklist" | "summary";

/** One alert channel in Settings. The secret never comes back from Rust: only masked. */
export interface ChannelForm {
  name: string;
  kind: "telegram" | "openalgo_telegram" | "discord" | "ntfy" | "webhook" | "email";
  /** Empty: the service's own address. */
  url: string;
  /** A new secret to save; empty keeps the saved one. */
  token: string;
  /** Read-only: the saved secret, masked ("••••1234"). */
  token_masked: string;
  chat_id: string;
  topic: string;
  username: string;
  priority: number | null;
  tags: string[];
  events: AlertEvent[];
  /** When the daily summary goes out: "16:00" (this machine's time) or "16:00+05:30". */
  summary_at: string;
  /** E-mail: the recipients. */
  to: string[];
  /** E-mail: the sender. */
  from: string;
  /** E-mail: use OpenAlgo's own SMTP settings. */
  openalgo_smtp: boolean;
}

/** One successful sign-in to OpenAlgo. */
export interface SignIn {
  username: string;
  ip: string;
  user_agent: string | null;
  at: Time;
  /** "password", "totp", "resume"... */
  login_type: string;
  broker: string | null;
  /** This user never signed in from this address (its /64 for IPv6) before. */
  new_address: boolean;
}

/** A browser signed in to OpenAlgo now. */
export interface Session {
  username: string;
  ip: string;
  user_agent: string | null;
  broker: string | null;
  login_time: Time | null;
  last_seen: Time | null;
}

export interface SignIns {
  signins: SignIn[];
  sessions: Session[];
}

/** Failed sign-ins from one address. */
export interface Incident {
  ip: string;
  user_agents: string[];
  attempts: number;
  usernames: string[];
  first_at: Time;
  last_at: Time;
  /** The attempts reached the limit in Settings. */
  attack: boolean;
  /** "openalgo", "access_log" or "both". */
  source: string;
  openalgo_attempts: number;
  access_log_attempts: number;
  /** A ban is in force for the address. */
  banned: boolean;
}

export interface AuditEntry {
  at: Time;
  actor: string;
  user: string | null;
  action: string;
  ip: string | null;
  detail: string | null;
  reason: string | null;
}

/** What the monitor reports (see `warden::monitor::Notice`); `kind` discriminates. */
/** How a check of the server came out. */
export type CheckStatus = "fail" | "warn" | "unknown" | "pass";

/** One finding of the server checklist (`warden check`). */
export interface Finding {
  id: string;
  title: string;
  status: CheckStatus;
  /** Why it matters, in plain words. */
  why: string;
  /** The exact line or command that fixes it; empty when it passes. */
  fix: string;
  /** What was seen, secrets masked. */
  evidence: string | null;
  /** For "unknown": why the fact could not be read. */
  reason: string | null;
}

/** How many findings came out each way. */
export interface CheckSummary {
  fail: number;
  warn: number;
  unknown: number;
  pass: number;
}

/** The server checklist, failures first. */
export interface CheckReport {
  findings: Finding[];
  summary: CheckSummary;
}

export type Notice =
  | { kind: "banned"; ip: string; rule: Rule; reason: string; count: number; threshold: number; permanent: boolean; expires_at: Time | null; at: Time; source: Source }
  | { kind: "near_threshold"; ip: string; rule: Rule; count: number; threshold: number; source: Source; window_start: Time }
  | { kind: "source"; name: string; path: string; health: Health }
  | { kind: "ban_pending"; ip: string; error: string }
  | { kind: "burst"; ip: string; scope: string | null; count: number; limit: number }
  /** The server checklist came out differently when the monitor ran it again by itself. */
  | { kind: "checklist"; summary: CheckSummary; newly_failing: Finding[]; fixed: Finding[] }
  | { kind: "stale_key"; ip: string; count: number; threshold: number; last_ok: Time }
  /** An enforcement point started or stopped holding the desired state. */
  | { kind: "sink"; name: string; state: "working" | "failing"; entries: number; error: string | null }
  /** A successful sign-in to OpenAlgo. */
  | ({ kind: "sign_in" } & SignIn)
  /** An alert channel started or stopped delivering. */
  | { kind: "delivery"; channel: string; working: boolean; error: string | null }
  | { kind: "reached" | "protected" | "left_to_open_algo" | "not_an_ip" | "unreadable" | "thresholds" | "traffic" | "range_denied"; [k: string]: unknown };

export const api = {
  overview: () => invoke<Overview>("overview"),
  bans: () => invoke<BanView[]>("bans"),
  trackers: () => invoke<TrackerView[]>("trackers"),
  traffic: (filter: TrafficFilter) => invoke<TrafficPage>("traffic", { filter }),
  ipDetail: (ip: string) => invoke<IpDetail>("ip_detail", { ip }),
  ban: (ip: string, reason: string, duration: DurationChoice) => invoke<BanOutcome>("ban_ip", { ip, reason, duration }),
  unban: (ip: string) => invoke<number>("unban_ip", { ip }),
  clearTracker: (ip: string, kind: "404" | "api") => invoke<number>("clear_tracker", { ip, kind }),
  hostPreview: (host: string) => invoke<HostPreview>("host_preview", { host }),
  banHost: (host: string, reason: string, duration: DurationChoice, ips: string[]) =>
    invoke<HostBanResult>("ban_host", { host, reason, duration, ips }),
  settings: () => invoke<Settings>("settings"),
  saveSettings: (settings: Settings) => invoke<Settings>("save_settings", { settings }),
  audit: (limit: number) => invoke<AuditEntry[]>("audit", { limit }),
  /** The checklist the monitor keeps up to date; `fresh` runs it now (the Check again button). */
  checklist: (fresh = false) => invoke<CheckReport>("checklist", { fresh }),
  access: () => invoke<AccessView>("access"),
  /** `ttl`: "30m", "24h", "7d", a number of seconds, or "" for until removed. */
  addPolicy: (policy: "allow" | "deny", value: string, ttl: string, reason: string) =>
    invoke<Policy>("add_policy", { policy, value, ttl, reason }),
  removePolicy: (value: string) => invoke<Policy>("remove_policy", { value }),
  allowOnlyPlan: () => invoke<AllowOnlyPlan>("allow_only_plan"),
  setAllowOnly: (on: boolean) => invoke<boolean>("set_allow_only", { on }),
  signins: (limit: number) => invoke<SignIns>("signins", { limit }),
  incidents: (hours: number) => invoke<Incident[]>("incidents", { hours }),
  /** Sends a test through a channel as the form describes it; resolves to the service's answer in words. */
  testAlert: (channel: ChannelForm) => invoke<string>("test_alert", { channel }),
  /** Tries CrowdSec's Local API as the form describes it. */
  testCrowdsec: (crowdsec: CrowdsecForm) => invoke<string>("test_crowdsec", { crowdsec }),
  /** Opens the system file chooser (from Rust); null when cancelled. */
  chooseFile: (title: string) => invoke<string | null>("choose_file", { title }),
};

/** Every monitor notice, as it happens. */
export function onNotice(handler: (n: Notice) => void): Promise<UnlistenFn> {
  return listen<Notice>("warden://notice", (e) => handler(e.payload));
}

/** Something in logs.db or an access log changed: refresh what is on screen (debounce it). */
export function onChanged(handler: () => void): Promise<UnlistenFn> {
  return listen<null>("warden://changed", () => handler());
}

/** Turns whatever a command rejected with into a CommandError. */
export function asError(e: unknown): CommandError {
  if (e && typeof e === "object" && "kind" in e && "message" in e) return e as CommandError;
  return { kind: "failed", message: String(e) };
}
