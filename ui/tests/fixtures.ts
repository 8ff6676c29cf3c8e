// Test data and a mocked Rust side: every command the UI calls, recorded.
import { mockIPC, clearMocks } from "@tauri-apps/api/mocks";
import type { BanView, Overview, Settings, TrackerView } from "../src/ipc";

export function overview(over: Partial<Overview> = {}): Overview {
  return {
    status: { total_bans: 2, permanent_bans: 1, temporary_bans: 1, suspicious_ips: 3, near_threshold: 1 },
    sources: [{ name: "logs.db", path: "/opt/openalgo/db/logs.db", health: { state: "ok" }, detail: null }],
    openalgo: {
      auto_ban: true,
      not_found_threshold: 20,
      not_found_ban_hours: 24,
      api_threshold: 10,
      api_ban_hours: 48,
      repeat_offender_limit: 3,
      trust_proxy_headers: false,
    },
    warnings: [],
    per_minute: [],
    per_minute_source: "logs.db",
    top: [],
    not_found_threshold: 20,
    api_threshold: 10,
    near_fraction: 0.8,
    demo: null,
    checklist: null,
    allow_only: false,
    sinks: [],
    ...over,
  };
}

export const BANS: BanView[] = [
  {
    ip: "203.0.113.7",
    reason: "Too many 404s",
    banned_at: "2026-11-22T01:00:00Z",
    expires_at: "2026-11-23T01:00:00Z",
    permanent: false,
    ban_count: 1,
    created_by: "warden",
    origin: "this server (Warden)",
  },
  {
    ip: "2001:db8::1",
    reason: "Invalid API keys",
    banned_at: "2026-11-21T12:00:00Z",
    expires_at: null,
    permanent: true,
    ban_count: 3,
    created_by: "warden:crowdsec",
    origin: "another Warden (server-b)",
  },
];

export const TRACKERS: TrackerView[] = [
  { ip: "198.51.100.4", kind: "404", count: 16, threshold: 20, first_at: "2026-11-22T01:00:00Z", last_at: "2026-11-22T01:05:00Z", paths: ["/.env", "/wp-login.php"], source: "proxy" },
  { ip: "198.51.100.9", kind: "api", count: 3, threshold: 10, first_at: "2026-11-22T01:00:00Z", last_at: "2026-11-22T01:02:00Z", key_hashes: ["ab12cd"], source: "openalgo" },
];

export const SETTINGS: Settings = {
  logs_db: "/opt/openalgo/db/logs.db",
  openalgo_db: "/opt/openalgo/db/openalgo.db",
  access_logs: [{ path: "/var/log/nginx/access.log", format: "combined" }],
  thresholds: "warden",
  not_found_threshold: 20,
  not_found_ban_hours: 24,
  api_threshold: 10,
  api_ban_hours: 48,
  repeat_offender_limit: 3,
  allow: ["10.0.0.0/8"],
  near_fraction: 0.8,
  notify_near: true,
  notify_banned: true,
  notify_sources: false,
  notify_checklist: true,
  notify_attack: true,
  notify_signin_new_address: true,
  notify_signin: false,
  login_auth_attempts: 10,
  login_deny_seconds: 86400,
  alerts: [
    { name: "phone", kind: "telegram", url: "", token: "", token_masked: "••••x9Qe", chat_id: "4242", topic: "", username: "", priority: null, tags: [], events: ["banned", "attack", "signin_new_address", "health"], summary_at: "", to: [], from: "", openalgo_smtp: false },
  ],
  crowdsec: { enabled: false, url: "http://127.0.0.1:8080", credentials: "", bouncer_key_file: "", push: true, pull: true, pull_seconds: 10, origins: [] },
  config_path: "/home/trader/.config/warden/config.toml",
};

export type Call = { cmd: string; args: Record<string, unknown> };

/** Mocks the Rust side; `handlers` override the defaults. Returns the recorded calls. */
export function mockRust(handlers: Record<string, (args: Record<string, unknown>) => unknown> = {}): Call[] {
  const calls: Call[] = [];
  const defaults: Record<string, (args: Record<string, unknown>) => unknown> = {
    overview: () => overview(),
    bans: () => BANS,
    trackers: () => TRACKERS,
    traffic: () => ({ rows: [], older: null }),
    audit: () => [],
    settings: () => SETTINGS,
    ip_detail: (a) => ({ ip: a.ip, protected: null, bans: [], trackers: [], offences: 0, timeline: [] }),
  };
  mockIPC(
    (cmd, args) => {
      const a = (args ?? {}) as Record<string, unknown>;
      calls.push({ cmd, args: a });
      const fn = handlers[cmd] ?? defaults[cmd];
      if (!fn) throw { kind: "failed", message: `no mock for ${cmd}` };
      return fn(a);
    },
    { shouldMockEvents: true },
  );
  return calls;
}

export function reset(): void {
  clearMocks();
  document.body.replaceChildren();
  history.replaceState(null, "", "#/");
}

export const byTestId = (id: string) => document.querySelector<HTMLElement>(`[data-testid="${id}"]`);

export function click(el: Element | null): void {
  if (!el) throw new Error("element not found");
  (el as HTMLElement).click();
}
