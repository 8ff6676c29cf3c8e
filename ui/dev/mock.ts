// Development only (never built): the UI in a plain browser with made-up data, no Rust needed.
// `npm run dev`, then open http://localhost:1420/dev/mock.html
import { mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import type { BanView, MinuteBucket, Overview, Settings, TrackerView, TrafficRow } from "../src/ipc";

const now = Date.now();
const iso = (msAgo: number) => new Date(now - msAgo).toISOString().replace(/\.\d{3}Z$/, "Z");
const rnd = (n: number) => Math.floor(Math.random() * n);

const bans: BanView[] = Array.from({ length: 14 }, (_, i) => ({
  ip: `203.0.113.${10 + i}`,
  reason: i % 3 ? "Too many pages not found (404)" : "Invalid API keys",
  banned_at: iso(i * 3_600_000),
  expires_at: i % 5 === 0 ? null : new Date(now + (48 - i) * 3_600_000).toISOString(),
  permanent: i % 5 === 0,
  ban_count: 1 + (i % 4),
  created_by: i % 4 ? "warden:404" : "warden:crowdsec",
  origin: i % 4 ? "this server (Warden)" : "another Warden (server-b)",
}));
bans.push({ ip: "<img src=x onerror=alert(1)>", reason: "<b>xss</b>", banned_at: iso(1), expires_at: null, permanent: true, ban_count: 1, created_by: "test", origin: "this server" });

const trackers: TrackerView[] = [
  ...Array.from({ length: 8 }, (_, i): TrackerView => ({
    ip: `198.51.100.${i + 1}`, kind: "404", count: 3 + i * 2, threshold: 20, first_at: iso(900_000), last_at: iso(i * 20_000),
    paths: ["/.env", "/wp-login.php", "/phpmyadmin/", "/.git/config"].slice(0, 1 + (i % 4)), source: i % 2 ? "proxy" : "openalgo",
  })),
  ...Array.from({ length: 4 }, (_, i): TrackerView => ({
    ip: `192.0.2.${i + 40}`, kind: "api", count: 2 + i * 2, threshold: 10, first_at: iso(600_000), last_at: iso(i * 30_000),
    key_hashes: ["9f86d081884c", "2c26b46b68ff", "fcde2b2edba5"].slice(0, 1 + (i % 3)), source: "openalgo",
  })),
  // At the threshold and not banned yet (ban pending), banned, and the ones that can never be banned.
  { ip: "198.51.100.60", kind: "404", count: 21, threshold: 20, first_at: iso(800_000), last_at: iso(5_000), paths: ["/.env"], source: "proxy", banned: false, protected: null },
  { ip: "203.0.113.10", kind: "404", count: 20, threshold: 20, first_at: iso(800_000), last_at: iso(9_000), paths: ["/wp-admin/"], source: "openalgo", banned: true, protected: null },
  { ip: "127.0.0.1", kind: "404", count: 34, threshold: 20, first_at: iso(700_000), last_at: iso(2_000), paths: ["/favicon.ico"], source: "proxy", banned: false, protected: "loopback" },
  { ip: "127.0.0.1", kind: "404", count: 6, threshold: 20, first_at: iso(700_000), last_at: iso(3_000), paths: ["/favicon.ico"], source: "openalgo", banned: false, protected: "loopback" },
  { ip: "", kind: "404", count: 12, threshold: 20, first_at: iso(700_000), last_at: iso(4_000), paths: ["/robots.txt"], source: "proxy", banned: false, protected: "not an IP address: counted, but there is nothing to ban" },
  { ip: "unknown", kind: "api", count: 11, threshold: 10, first_at: iso(500_000), last_at: iso(4_000), key_hashes: ["0000aaaa"], source: "openalgo", banned: false, protected: "not an IP address: counted, but there is nothing to ban" },
  { ip: "10.0.0.5", kind: "api", count: 9, threshold: 10, first_at: iso(500_000), last_at: iso(6_000), key_hashes: ["1111bbbb"], source: "openalgo", banned: false, protected: "in your allow-list" },
];

const perMinute: MinuteBucket[] = Array.from({ length: 60 }, (_, i) => ({
  at: iso((60 - i) * 60_000),
  ok: 20 + rnd(40),
  not_found: i > 40 ? rnd(15) : rnd(3),
  denied: rnd(3),
  other_4xx: rnd(2),
  errors: i === 50 ? 4 : 0,
}));

const paths = ["/api/v1/placeorder", "/api/v1/funds", "/dashboard", "/.env", "/wp-login.php", "/api/v1/quotes"];
const traffic: TrafficRow[] = Array.from({ length: 100_000 }, (_, i) => ({
  at: iso(i * 700),
  ip: `198.51.100.${i % 250}`,
  method: i % 7 ? "GET" : "POST",
  path: paths[i % paths.length],
  status: [200, 200, 200, 404, 403, 500, 302][i % 7],
  host: "algo.example.com",
  user_agent: i % 3 ? "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36" : "python-requests/2.31",
  source: i % 2 ? "logs.db" : "access.log",
}));

const overview = (): Overview => ({
  status: { total_bans: bans.length, permanent_bans: bans.filter((b) => b.permanent).length, temporary_bans: bans.filter((b) => !b.permanent).length, suspicious_ips: trackers.length, near_threshold: 2 },
  sources: [
    { name: "logs.db", path: "/opt/openalgo/db/logs.db", health: { state: "ok" }, detail: null },
    { name: "openalgo.db", path: "/opt/openalgo/db/openalgo.db", health: { state: "locked", detail: "database is locked; retrying" }, detail: null },
    { name: "access log", path: "/var/log/nginx/access.log", health: { state: "ok" }, detail: "combined, 12.4 MB read" },
  ],
  openalgo: { auto_ban: false, not_found_threshold: 20, not_found_ban_hours: 24, api_threshold: 10, api_ban_hours: 48, repeat_offender_limit: 3, trust_proxy_headers: false },
  warnings: [
    { id: "auto_ban_off", level: "warn", title: "OpenAlgo does not ban by itself.", text: "Warden is the only thing banning attackers: keep it running." },
    { id: "one_client_ip", level: "danger", title: "Every request seems to come from one address.", text: "nginx forwards the real address, but OpenAlgo does not trust proxy headers." },
  ],
  per_minute: perMinute,
  per_minute_source: "access log",
  top: trackers.slice(0, 8).map((t) => ({ ip: t.ip, score: t.count, not_found: t.kind === "404" ? t.count : 0, api: t.kind === "api" ? t.count : 0, banned: !!t.banned || (!t.protected && t.count > 16), protected: t.protected ?? null })).concat(
    trackers.filter((t) => t.protected || t.banned).map((t) => ({ ip: t.ip, score: t.count, not_found: t.kind === "404" ? t.count : 0, api: t.kind === "api" ? t.count : 0, banned: !!t.banned, protected: t.protected ?? null })),
  ),
  not_found_threshold: 20,
  api_threshold: 10,
  near_fraction: 0.8,
  demo: "Demo workspace: made-up data, nothing is really banned.",
  checklist: { fail: 2, warn: 3, unknown: 1, pass: 12 },
  allow_only: false,
  sinks: [{ name: "nginx", state: "working", entries: 14, applied_at: "2026-12-04T20:00:00Z", error: null }],
});

let settings: Settings = {
  logs_db: "/opt/openalgo/db/logs.db", openalgo_db: "/opt/openalgo/db/openalgo.db",
  access_logs: [{ path: "/var/log/nginx/access.log", format: "combined" }], thresholds: "warden",
  not_found_threshold: 20, not_found_ban_hours: 24, api_threshold: 10, api_ban_hours: 48, repeat_offender_limit: 3,
  allow: ["127.0.0.1", "10.0.0.0/8"], near_fraction: 0.8, notify_near: true, notify_banned: true, notify_sources: true, notify_checklist: true,
  notify_attack: true, notify_signin_new_address: true, notify_signin: false, login_auth_attempts: 10, login_deny_seconds: 86400,
  alerts: [{ name: "phone", kind: "telegram", url: "", token: "", token_masked: "••••x9Qe", chat_id: "4242", topic: "", username: "", priority: null, tags: [], events: ["banned", "attack", "signin_new_address", "health"], summary_at: "", to: [], from: "", openalgo_smtp: false }],
  crowdsec: { enabled: false, url: "http://127.0.0.1:8080", credentials: "", bouncer_key_file: "", push: true, pull: true, pull_seconds: 10, origins: [] },
  config_path: "/home/trader/.config/warden/config.toml",
};

mockIPC(
  (cmd, a) => {
    const args = (a ?? {}) as Record<string, any>;
    switch (cmd) {
      case "overview": return overview();
      case "bans": return bans;
      case "trackers": return trackers;
      case "traffic": {
        const f = args.filter;
        return traffic.filter((r) => (!f.ip || r.ip === f.ip) && (!f.text || r.path.includes(f.text))).slice(0, f.limit);
      }
      case "ip_detail": return {
        ip: args.ip, protected: null, bans: bans.filter((b) => b.ip === args.ip), trackers: trackers.filter((t) => t.ip === args.ip), offences: 2,
        timeline: traffic.filter((r) => r.ip === args.ip).slice(0, 300).map((r) => ({ at: r.at, kind: "request", text: `${r.method} ${r.path} → ${r.status}` })),
      };
      case "ban_ip": return { ip: args.ip, rows: ["1"], permanent: args.duration === "permanent", expires_at: new Date(now + 48 * 3_600_000).toISOString(), ban_count: 1 };
      case "unban_ip": return 1;
      case "clear_tracker": return 1;
      case "host_preview": return { host: args.host, dns_error: null, candidates: [{ ip: "203.0.113.80", from: ["dns"], protected: null }, { ip: "10.0.0.5", from: ["traffic"], protected: "in your allow-list" }] };
      case "ban_host": return { banned: args.ips.map((ip: string) => ({ ip, rows: [], permanent: false, expires_at: null, ban_count: 1 })), skipped: [] };
      case "settings": return settings;
      case "save_settings": settings = args.settings; return settings;
      case "signins": return {
        signins: [
          { username: "trader", ip: "203.0.113.99", user_agent: "curl/8.5.0", at: iso(120_000), login_type: "password", broker: "dhan", new_address: true },
          { username: "trader", ip: "198.51.100.5", user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0", at: iso(3_600_000), login_type: "password", broker: "dhan", new_address: false },
        ],
        sessions: [{ username: "trader", ip: "198.51.100.5", user_agent: "Mozilla/5.0 Chrome/131.0", broker: "dhan", login_time: iso(3_600_000), last_seen: iso(30_000) }],
      };
      case "incidents": return [
        { ip: "203.0.113.120", user_agents: ["python-requests/2.31"], attempts: 12, usernames: ["admin", "trader", "root"], first_at: iso(900_000), last_at: iso(700_000), attack: true, source: "both", openalgo_attempts: 12, access_log_attempts: 12, banned: true },
        { ip: "2001:db8:77::5", user_agents: ["Mozilla/5.0 Firefox/133.0"], attempts: 1, usernames: ["trader"], first_at: iso(600_000), last_at: iso(600_000), attack: false, source: "openalgo", openalgo_attempts: 1, access_log_attempts: 0, banned: false },
      ];
      case "test_alert": return `Telegram took the test alert. Check that it arrived.`;
      case "audit": return [{ at: iso(60_000), actor: "gui", user: "trader", action: "ban", ip: "203.0.113.10", detail: "48h", reason: "Manual ban" }];
      case "choose_file": return "/home/trader/picked.log";
    }
    throw { kind: "failed", message: `mock: no ${cmd}` };
  },
  { shouldMockEvents: true },
);

await import("../src/main");

setTimeout(() => {
  void emit("warden://notice", { kind: "near_threshold", ip: "198.51.100.7", rule: "404", count: 17, threshold: 20, source: "proxy", window_start: iso(0) });
  void emit("warden://notice", { kind: "banned", ip: "198.51.100.8", rule: "404", reason: "Too many pages not found", count: 20, threshold: 20, permanent: false, expires_at: new Date(now + 24 * 3_600_000).toISOString(), at: iso(0), source: "proxy" });
}, 800);

// ?click=<testid> clicks that element once the view is up (for screenshots of dialogs).
const target = new URLSearchParams(location.search).get("click");
if (target) setTimeout(() => document.querySelector<HTMLElement>(`[data-testid="${target}"]`)?.click(), 1200);
