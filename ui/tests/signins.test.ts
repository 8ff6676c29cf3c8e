// Sign-ins, Incidents and the alert channels in Settings: attacker-typed strings stay text, a new
// address is marked, an attack can be banned, a channel's test sends the form as typed (an empty
// token keeps the saved one), and the service's own words come back.
import { startApp, type App } from "../src/app";
import type { Incident, SignIns } from "../src/ipc";
import { byTestId, click, mockRust, overview, reset, SETTINGS } from "./fixtures";

let app: App | null = null;
afterEach(() => {
  app?.stop();
  app = null;
  reset();
});

function start() {
  const mount = document.createElement("div");
  document.body.appendChild(mount);
  app = startApp(mount);
}

const HOSTILE = "<img src=x onerror=alert(1)>";

const SIGNINS: SignIns = {
  signins: [
    { username: HOSTILE, ip: "192.0.2.77", user_agent: "curl/8.5.0", at: "2026-12-04T10:00:00Z", login_type: "password", broker: "dhan", new_address: true },
    { username: "trader", ip: "198.51.100.5", user_agent: HOSTILE, at: "2026-12-04T09:00:00Z", login_type: "password", broker: null, new_address: false },
  ],
  sessions: [{ username: "trader", ip: "198.51.100.5", user_agent: "Mozilla/5.0", broker: "dhan", login_time: "2026-12-04T09:00:00Z", last_seen: "2026-12-04T09:30:00Z" }],
};

const INCIDENTS: Incident[] = [
  { ip: "203.0.113.120", user_agents: ["python-requests/2.31"], attempts: 12, usernames: ["admin", HOSTILE], first_at: "2026-12-04T08:00:00Z", last_at: "2026-12-04T08:02:00Z", attack: true, source: "both", openalgo_attempts: 12, access_log_attempts: 12, banned: false },
  { ip: "2001:db8:77::5", user_agents: [], attempts: 1, usernames: ["trader"], first_at: "2026-12-04T08:00:00Z", last_at: "2026-12-04T08:00:00Z", attack: false, source: "openalgo", openalgo_attempts: 1, access_log_attempts: 0, banned: true },
];

describe("sign-ins and incidents", () => {
  it("marks a new address, shows the open sessions, and keeps typed strings as text", async () => {
    mockRust({ signins: () => SIGNINS });
    start();
    click(byTestId("nav-signins"));
    await vi.waitFor(() => expect(byTestId("signins-table")!.querySelectorAll("[data-ip]").length).toBe(2));
    const table = byTestId("signins-table")!;
    expect(table.querySelector('[data-ip="192.0.2.77"] [data-testid="new-address"]')).not.toBeNull();
    expect(table.querySelector('[data-ip="198.51.100.5"] [data-testid="new-address"]')).toBeNull();
    expect(table.textContent).toContain(HOSTILE);
    expect(document.querySelector("img")).toBeNull();
    expect(byTestId("sessions")!.querySelectorAll('[data-testid="session"]').length).toBe(1);
  });

  it("says why when openalgo.db cannot be read", async () => {
    mockRust({ signins: () => { throw { kind: "failed", message: "cannot read OpenAlgo's sign-ins: login_attempts has an older layout" }; } });
    start();
    click(byTestId("nav-signins"));
    await vi.waitFor(() => expect(byTestId("signins-problem")!.hidden).toBe(false));
    expect(byTestId("signins-problem")!.textContent).toContain("older layout");
  });

  it("marks attacks and bans an address after a confirmation", async () => {
    const calls = mockRust({ incidents: () => INCIDENTS, ban_ip: (a) => ({ ip: a.ip, rows: [a.ip], expires_at: null, permanent: false }) });
    start();
    click(byTestId("nav-incidents"));
    await vi.waitFor(() => expect(byTestId("incidents-table")!.querySelectorAll("[data-ip]").length).toBe(2));
    const table = byTestId("incidents-table")!;
    expect(table.querySelector('[data-ip="203.0.113.120"] [data-testid="attack"]')).not.toBeNull();
    expect(table.textContent).toContain(HOSTILE);
    expect(document.querySelector("img")).toBeNull();
    expect(byTestId("ban-incident-2001:db8:77::5")).toBeNull();
    click(byTestId("ban-incident-203.0.113.120"));
    await vi.waitFor(() => expect(document.querySelector(".modal .btn.danger")).not.toBeNull());
    click(document.querySelector(".modal .btn.danger"));
    await vi.waitFor(() => expect(calls.some((c) => c.cmd === "ban_ip")).toBe(true));
    expect(calls.find((c) => c.cmd === "ban_ip")!.args).toMatchObject({ ip: "203.0.113.120", duration: "24h" });
  });
});

describe("alert channels in Settings", () => {
  it("shows the saved token masked, tests the channel as typed, and shows the service's words", async () => {
    let answer: () => unknown = () => "Telegram took the test alert. Check that it arrived.";
    const calls = mockRust({ test_alert: () => answer(), save_settings: (a) => a.settings });
    start();
    click(byTestId("nav-settings"));
    await vi.waitFor(() => expect(byTestId("channel")).not.toBeNull());
    const token = byTestId("channel-token") as HTMLInputElement;
    expect(token.value).toBe("");
    expect(token.placeholder).toContain("••••x9Qe");
    click(byTestId("channel-test"));
    await vi.waitFor(() => expect(byTestId("channel-test-result")!.textContent).toContain("Telegram took the test alert"));
    const sent = calls.find((c) => c.cmd === "test_alert")!.args.channel as Record<string, unknown>;
    expect(sent).toMatchObject({ name: "phone", kind: "telegram", chat_id: "4242", token: "" });
    answer = () => { throw { kind: "invalid_input", message: "Telegram said: Unauthorized (HTTP 401). Check the token." }; };
    token.value = "123:new";
    click(byTestId("channel-test"));
    await vi.waitFor(() => expect(byTestId("channel-test-result")!.textContent).toContain("Unauthorized (HTTP 401)"));
    expect((calls.filter((c) => c.cmd === "test_alert")[1].args.channel as Record<string, unknown>).token).toBe("123:new");

    // A new ntfy channel goes out with the form on save.
    (byTestId("channel-kind") as HTMLSelectElement).value = "ntfy";
    click(byTestId("channel-add"));
    const rows = document.querySelectorAll('[data-testid="channel"]');
    expect(rows.length).toBe(2);
    click(byTestId("settings-save"));
    await vi.waitFor(() => expect(calls.some((c) => c.cmd === "save_settings")).toBe(true));
    const saved = calls.find((c) => c.cmd === "save_settings")!.args.settings as typeof SETTINGS;
    expect(saved.alerts.map((a) => [a.name, a.kind])).toEqual([["phone", "telegram"], ["ntfy", "ntfy"]]);
    expect(saved.alerts[1].events).toEqual(["banned", "attack", "signin_new_address", "health"]);
    expect(saved.login_auth_attempts).toBe(10);
    expect(saved.login_deny_seconds).toBe(86400);
  });
});

describe("banned IPs", () => {
  it("say where each ban came from", async () => {
    mockRust();
    start();
    click(byTestId("nav-bans"));
    await vi.waitFor(() => expect(byTestId("bans-table")!.querySelectorAll("[data-ip]").length).toBe(2));
    const row = byTestId("bans-table")!.querySelector('[data-ip="2001:db8::1"]')!;
    expect(row.textContent).toContain("another Warden (server-b)");
  });
});

describe("CrowdSec in Settings", () => {
  it("tests the connection as typed and saves the section", async () => {
    const calls = mockRust({
      test_crowdsec: (a) => {
        const c = a.crowdsec as { enabled: boolean };
        if (!c.enabled) throw { kind: "invalid_input", message: "turn CrowdSec on first" };
        return "the LAPI at http://10.0.0.2:8080 is up; the machine server-a can push";
      },
      save_settings: (a) => a.settings,
    });
    start();
    click(byTestId("nav-settings"));
    await vi.waitFor(() => expect(byTestId("crowdsec-test")).not.toBeNull());
    click(byTestId("crowdsec-test"));
    await vi.waitFor(() => expect(byTestId("crowdsec-test-result")!.textContent).toContain("turn CrowdSec on first"));
    (byTestId("crowdsec-enabled") as HTMLInputElement).checked = true;
    (byTestId("crowdsec-url") as HTMLInputElement).value = "http://10.0.0.2:8080";
    (byTestId("crowdsec-credentials") as HTMLInputElement).value = "/etc/warden/lapi.yaml";
    (byTestId("crowdsec-key") as HTMLInputElement).value = "/etc/warden/bouncer.key";
    click(byTestId("crowdsec-test"));
    await vi.waitFor(() => expect(byTestId("crowdsec-test-result")!.textContent).toContain("can push"));
    click(byTestId("settings-save"));
    await vi.waitFor(() => expect(calls.some((c) => c.cmd === "save_settings")).toBe(true));
    const saved = calls.find((c) => c.cmd === "save_settings")!.args.settings as typeof SETTINGS;
    expect(saved.crowdsec).toMatchObject({ enabled: true, url: "http://10.0.0.2:8080", credentials: "/etc/warden/lapi.yaml", bouncer_key_file: "/etc/warden/bouncer.key", pull_seconds: 10 });
  });
});

describe("the Overview's sources", () => {
  it("show the LAPI's health in words", async () => {
    mockRust({
      overview: () =>
        overview({ sinks: [{ name: "crowdsec", state: "failing", entries: 0, applied_at: null, error: "cannot connect to the LAPI at http://10.0.0.2:8080" }] }),
    });
    start();
    await vi.waitFor(() => expect(document.querySelector('[data-sink="crowdsec"]')).not.toBeNull());
    const row = document.querySelector('[data-sink="crowdsec"]')!;
    expect(row.textContent).toContain("CrowdSec LAPI");
    expect(row.textContent).toContain("not reachable: bans are not shared");
    expect(row.textContent).toContain("cannot connect to the LAPI at http://10.0.0.2:8080");
  });
});
