// The whole front end against a mocked Rust side: the e2e test hooks, the flows and live updates.
import { emit } from "@tauri-apps/api/event";
import { startApp, type App } from "../src/app";
import { BANS, byTestId, click, mockRust, overview, reset, type Call } from "./fixtures";

let app: App | null = null;

function start(calls?: Call[]) {
  const mount = document.createElement("div");
  document.body.appendChild(mount);
  app = startApp(mount);
  return calls;
}

const count = (calls: Call[], cmd: string) => calls.filter((c) => c.cmd === cmd).length;

afterEach(() => {
  app?.stop();
  app = null;
  reset();
});

describe("shell", () => {
  it("has every navigation hook and the stat cards with bare numbers", async () => {
    mockRust();
    start();
    for (const id of ["overview", "bans", "api", "404", "traffic", "ban", "settings", "audit"]) {
      expect(byTestId(`nav-${id}`), id).not.toBeNull();
    }
    await vi.waitFor(() => expect(byTestId("stat-total-bans")!.textContent).toBe("2"));
    expect(byTestId("stat-permanent-bans")!.textContent).toBe("1");
    expect(byTestId("stat-suspicious")!.textContent).toBe("3");
    expect(byTestId("stat-near-threshold")!.textContent).toBe("1");
    expect(byTestId("toasts")).not.toBeNull();
    expect(byTestId("demo-banner")).toBeNull();
    // The fixture's chart comes from logs.db: the Overview says so and suggests the access log.
    expect(byTestId("chart-source")!.textContent).toContain("OpenAlgo's traffic log");
  });

  it("shows the demo banner on every view", async () => {
    mockRust({ overview: () => overview({ demo: "Demo workspace: nothing here is real." }) });
    start();
    await vi.waitFor(() => expect(byTestId("demo-banner")!.textContent).toBe("Demo workspace: nothing here is real."));
    click(byTestId("nav-settings"));
    await vi.waitFor(() => expect(byTestId("settings-form")).not.toBeNull());
    expect(byTestId("demo-banner")).not.toBeNull();
  });

  it("shows a command error in plain words", async () => {
    mockRust({ bans: () => Promise.reject({ kind: "not_found", message: "OpenAlgo's logs.db was not found at /x/logs.db." }) });
    start();
    click(byTestId("nav-bans"));
    await vi.waitFor(() => expect(document.querySelector(".error-bar")!.textContent).toBe("OpenAlgo's logs.db was not found at /x/logs.db."));
  });
});

describe("banned IPs", () => {
  it("renders one row per ban with data-ip, and unbans only after confirm-ok", async () => {
    const calls = mockRust({ unban_ip: () => 1 });
    start();
    click(byTestId("nav-bans"));
    await vi.waitFor(() => expect(byTestId("bans-table")!.querySelectorAll("[data-ip]").length).toBe(2));
    const table = byTestId("bans-table")!;
    expect(table.querySelector('[data-ip="203.0.113.7"]')).not.toBeNull();
    // The stat cards are on every view, not only the overview.
    expect(byTestId("stat-total-bans")!.textContent).toBe("2");
    expect(table.querySelector('[data-ip="2001:db8::1"]')!.textContent).toContain("permanent");

    click(byTestId("unban-203.0.113.7"));
    expect(byTestId("confirm-ok")).not.toBeNull();
    click(byTestId("confirm-cancel"));
    await Promise.resolve();
    expect(count(calls, "unban_ip")).toBe(0);

    click(byTestId("unban-203.0.113.7"));
    click(byTestId("confirm-ok"));
    await vi.waitFor(() => expect(count(calls, "unban_ip")).toBe(1));
    expect(calls.find((c) => c.cmd === "unban_ip")!.args).toEqual({ ip: "203.0.113.7" });
    expect(byTestId("confirm-ok")).toBeNull();
  });

  it("clicking an IP opens its detail", async () => {
    mockRust();
    start();
    click(byTestId("nav-bans"));
    await vi.waitFor(() => expect(byTestId("bans-table")!.querySelector(".ip-link")).not.toBeNull());
    click(byTestId("bans-table")!.querySelector('[data-ip="2001:db8::1"] .ip-link'));
    await vi.waitFor(() => expect(byTestId("view-ip")).not.toBeNull());
    expect(byTestId("view-ip")!.querySelector(".ip-title")!.textContent).toBe("2001:db8::1");
    expect(app!.current()).toEqual({ view: "ip", ip: "2001:db8::1" });
  });
});

describe("manual ban", () => {
  it("asks first, then calls ban_ip with the chosen duration", async () => {
    const calls = mockRust({
      ban_ip: (a) => ({ ip: a.ip, rows: ["1"], permanent: a.duration === "permanent", expires_at: null, ban_count: 1 }),
    });
    start();
    click(byTestId("nav-ban"));
    const sel = byTestId("ban-duration") as HTMLSelectElement;
    expect([...sel.options].map((o) => o.value)).toEqual(["24h", "48h", "1w", "permanent"]);
    (byTestId("ban-ip") as HTMLInputElement).value = "198.51.100.23";
    (byTestId("ban-reason") as HTMLInputElement).value = "Scanner";
    sel.value = "1w";
    click(byTestId("ban-submit"));
    expect(byTestId("confirm-ok")).not.toBeNull();
    expect(count(calls, "ban_ip")).toBe(0);
    click(byTestId("confirm-ok"));
    await vi.waitFor(() => expect(count(calls, "ban_ip")).toBe(1));
    expect(calls.find((c) => c.cmd === "ban_ip")!.args).toEqual({ ip: "198.51.100.23", reason: "Scanner", duration: "1w" });
    await vi.waitFor(() => expect(byTestId("ban-outcome")!.textContent).toContain("Banned 198.51.100.23"));
  });

  it("shows a refusal in the app's words", async () => {
    mockRust({ ban_ip: () => Promise.reject({ kind: "protected", message: "127.0.0.1 is protected: loopback." }) });
    start();
    click(byTestId("nav-ban"));
    (byTestId("ban-ip") as HTMLInputElement).value = "127.0.0.1";
    click(byTestId("ban-submit"));
    click(byTestId("confirm-ok"));
    await vi.waitFor(() => expect(byTestId("ban-outcome")!.textContent).toBe("127.0.0.1 is protected: loopback."));
  });

  it("previews a host, skips protected addresses, and bans the ticked ones", async () => {
    const calls = mockRust({
      host_preview: (a) => ({
        host: a.host,
        dns_error: null,
        candidates: [
          { ip: "203.0.113.50", from: ["dns"], protected: null },
          { ip: "203.0.113.51", from: ["dns", "traffic"], protected: null },
          { ip: "10.0.0.1", from: ["traffic"], protected: "in the allow-list" },
        ],
      }),
      ban_host: (a) => ({ banned: (a.ips as string[]).map((ip) => ({ ip, rows: [], permanent: false, expires_at: null, ban_count: 1 })), skipped: [] }),
    });
    start();
    click(byTestId("nav-ban"));
    (byTestId("host-input") as HTMLInputElement).value = "bad.example";
    click(byTestId("host-preview"));
    await vi.waitFor(() => expect(byTestId("host-candidates")!.querySelectorAll("input[type=checkbox]").length).toBe(3));
    const boxes = [...byTestId("host-candidates")!.querySelectorAll<HTMLInputElement>("input[type=checkbox]")];
    expect(boxes[2].disabled).toBe(true);
    expect(byTestId("host-candidates")!.textContent).toContain("in the allow-list");
    boxes[1].click(); // untick .51
    click(byTestId("host-submit"));
    click(byTestId("confirm-ok"));
    await vi.waitFor(() => expect(count(calls, "ban_host")).toBe(1));
    expect(calls.find((c) => c.cmd === "ban_host")!.args).toEqual({ host: "bad.example", reason: "", duration: "48h", ips: ["203.0.113.50"] });
  });
});

describe("trackers", () => {
  it("lists each kind in its table and quick-bans for 48 h after confirmation", async () => {
    const calls = mockRust({ ban_ip: (a) => ({ ip: a.ip, rows: [], permanent: false, expires_at: null, ban_count: 1 }) });
    start();
    click(byTestId("nav-api"));
    await vi.waitFor(() => expect(byTestId("tracker-api-table")!.querySelectorAll("[data-ip]").length).toBe(1));
    expect(byTestId("tracker-api-table")!.textContent).toContain("3 of 10");
    click(byTestId("ban-api-198.51.100.9"));
    click(byTestId("confirm-ok"));
    await vi.waitFor(() => expect(count(calls, "ban_ip")).toBe(1));
    expect(calls.find((c) => c.cmd === "ban_ip")!.args).toEqual({ ip: "198.51.100.9", reason: "Quick ban: invalid API keys", duration: "48h" });

    click(byTestId("nav-404"));
    await vi.waitFor(() => expect(byTestId("tracker-404-table")!.querySelector('[data-ip="198.51.100.4"]')).not.toBeNull());
    expect(byTestId("tracker-404-table")!.textContent).toContain("/wp-login.php");
    click(byTestId("clear-404-198.51.100.4"));
    click(byTestId("confirm-ok"));
    await vi.waitFor(() => expect(calls.find((c) => c.cmd === "clear_tracker")?.args).toEqual({ ip: "198.51.100.4", kind: "404" }));

    // A 404 quick ban lasts 24 h, as OpenAlgo's own 404 ban does.
    click(byTestId("ban-404-198.51.100.4"));
    click(byTestId("confirm-ok"));
    await vi.waitFor(() => expect(count(calls, "ban_ip")).toBe(2));
    expect(calls.filter((c) => c.cmd === "ban_ip")[1].args).toEqual({
      ip: "198.51.100.4",
      reason: "Quick ban: too many pages not found (404)",
      duration: "24h",
    });
  });
});

describe("live updates", () => {
  it("refreshes the current view on warden://changed, debounced", async () => {
    const calls = mockRust();
    start();
    click(byTestId("nav-bans"));
    await vi.waitFor(() => expect(count(calls, "bans")).toBe(1));
    await emit("warden://changed", null);
    await emit("warden://changed", null);
    await emit("warden://changed", null);
    await vi.waitFor(() => expect(count(calls, "bans")).toBe(2));
    await new Promise((r) => setTimeout(r, 400));
    expect(count(calls, "bans")).toBe(2);
  });

  it("shows notices as toasts (red for bans, amber when close) and refreshes", async () => {
    const calls = mockRust();
    start();
    await vi.waitFor(() => expect(count(calls, "overview")).toBe(1));
    await emit("warden://notice", {
      kind: "banned", ip: "<img src=x onerror=alert(1)>", rule: "404", reason: "Too many 404s", count: 20, threshold: 20,
      permanent: false, expires_at: null, at: "2026-11-22T02:00:00Z", source: "proxy",
    });
    await emit("warden://notice", { kind: "near_threshold", ip: "198.51.100.4", rule: "api", count: 8, threshold: 10, source: "openalgo", window_start: "2026-11-22T02:00:00Z" });
    const toasts = byTestId("toasts")!;
    await vi.waitFor(() => expect(toasts.querySelectorAll(".toast").length).toBe(2));
    expect(toasts.querySelector(".tone-danger")!.textContent).toContain("<img src=x onerror=alert(1)>");
    expect(toasts.querySelector("img")).toBeNull();
    expect(toasts.querySelector(".tone-warn")!.textContent).toContain("8 of 10");
    await vi.waitFor(() => expect(count(calls, "overview")).toBe(2));
  });
});

describe("settings", () => {
  it("shows the app's message for each field beside that field", async () => {
    const calls = mockRust({
      save_settings: () =>
        Promise.reject({
          kind: "invalid_settings",
          message: "Some settings need fixing.",
          fields: { logs_db: "No file at /nope/logs.db.", allow: "'10.0.0.300' is not an IP or CIDR range.", "access_logs[0].format": "Unknown format 'weird'." },
        }),
    });
    start();
    click(byTestId("nav-settings"));
    await vi.waitFor(() => expect(byTestId("settings-form")).not.toBeNull());
    const form = byTestId("settings-form")!;
    click(byTestId("settings-save"));
    await vi.waitFor(() => expect(count(calls, "save_settings")).toBe(1));
    const sent = calls.find((c) => c.cmd === "save_settings")!.args.settings as Record<string, unknown>;
    expect(sent.near_fraction).toBe(0.8);
    expect(sent.allow).toEqual(["10.0.0.0/8"]);
    const slot = (name: string) => form.querySelector(`[data-error-for="${name}"]`)!.textContent;
    await vi.waitFor(() => expect(slot("logs_db")).toBe("No file at /nope/logs.db."));
    expect(slot("allow")).toBe("'10.0.0.300' is not an IP or CIDR range.");
    expect(slot("access_logs")).toBe("Unknown format 'weird'.");
    expect(form.querySelector('[data-field="logs_db"] input')!.classList.contains("invalid")).toBe(true);
  });

  it("checks numbers and the fraction before sending, and disables the numbers when following OpenAlgo", async () => {
    const calls = mockRust({ save_settings: (a) => a.settings });
    start();
    click(byTestId("nav-settings"));
    await vi.waitFor(() => expect(byTestId("settings-form")).not.toBeNull());
    const form = byTestId("settings-form")!;
    const input = (name: string) => form.querySelector<HTMLInputElement>(`[name="${name}"]`)!;
    input("api_threshold").value = "-3";
    input("near_fraction").value = "150";
    click(byTestId("settings-save"));
    const slot = (name: string) => form.querySelector(`[data-error-for="${name}"]`)!.textContent;
    expect(slot("api_threshold")).toBe("Type a whole number.");
    expect(slot("near_fraction")).toBe("Must be above 0 and at most 100 %.");
    expect(count(calls, "save_settings")).toBe(0);

    form.querySelector<HTMLInputElement>('input[value="openalgo"]')!.click();
    expect(input("api_threshold").disabled).toBe(true);
    input("near_fraction").value = "75";
    click(byTestId("settings-save"));
    await vi.waitFor(() => expect(count(calls, "save_settings")).toBe(1));
    const sent = calls.find((c) => c.cmd === "save_settings")!.args.settings as Record<string, unknown>;
    expect(sent.thresholds).toBe("openalgo");
    expect(sent.near_fraction).toBe(0.75);
    expect(sent.api_threshold).toBe(10);
  });
});

describe("traffic", () => {
  it("asks for 5000 rows by default and sends the filters", async () => {
    const calls = mockRust({
      traffic: () => ({
        rows: [{ at: "2026-11-22T02:00:00Z", ip: "203.0.113.9", method: "GET", path: "/<script>", status: 404, host: null, user_agent: "x", source: "access.log" }],
        older: null,
      }),
    });
    start();
    click(byTestId("nav-traffic"));
    await vi.waitFor(() => expect(byTestId("traffic-table")!.querySelectorAll("[data-ip]").length).toBe(1));
    expect(calls.find((c) => c.cmd === "traffic")!.args).toEqual({ filter: { ip: null, status: null, text: null, limit: 5000, before: null } });
    expect(byTestId("traffic-table")!.querySelector("script")).toBeNull();
    const root = document.querySelector(".filters")!;
    root.querySelector<HTMLInputElement>('[aria-label="Address"]')!.value = "203.0.113.9";
    root.querySelector<HTMLSelectElement>('[aria-label="Status"]')!.value = "404";
    root.querySelector<HTMLInputElement>('[aria-label="Rows"]')!.value = "250000";
    root.querySelector<HTMLButtonElement>('button[type="submit"]')!.click();
    await vi.waitFor(() => expect(count(calls, "traffic")).toBe(2));
    expect(calls.filter((c) => c.cmd === "traffic")[1].args).toEqual({ filter: { ip: "203.0.113.9", status: "404", text: null, limit: 100000, before: null } });
  });

  it("pages back through older requests with the cursor Rust gave, and forward again", async () => {
    const row = (n: number) => ({ at: "2026-11-22T02:00:00Z", ip: `203.0.113.${n}`, method: "GET", path: "/", status: 200, host: null, user_agent: null, source: "logs.db" });
    const cursor1 = { logs_db: 41, access: [1200] };
    const calls = mockRust({
      traffic: (a) => {
        const before = (a.filter as { before: unknown }).before;
        if (before === null) return { rows: [row(1), row(2)], older: cursor1 };
        return { rows: [row(3)], older: null };
      },
    });
    start();
    click(byTestId("nav-traffic"));
    await vi.waitFor(() => expect(byTestId("traffic-table")!.querySelectorAll("[data-ip]").length).toBe(2));
    const olderBtn = byTestId("traffic-older") as HTMLButtonElement;
    const newerBtn = byTestId("traffic-newer") as HTMLButtonElement;
    expect(newerBtn.disabled).toBe(true);
    expect(olderBtn.disabled).toBe(false);
    olderBtn.click();
    await vi.waitFor(() => expect(byTestId("traffic-table")!.querySelector('[data-ip="203.0.113.3"]')).not.toBeNull());
    const sent = calls.filter((c) => c.cmd === "traffic").map((c) => (c.args.filter as { before: unknown }).before);
    expect(sent).toEqual([null, cursor1]);
    expect(byTestId("traffic-table")!.querySelectorAll("[data-ip]").length).toBe(1);
    expect(olderBtn.disabled).toBe(true);
    expect(byTestId("traffic-page")!.textContent).toContain("5,001");
    newerBtn.click();
    await vi.waitFor(() => expect(byTestId("traffic-table")!.querySelectorAll("[data-ip]").length).toBe(2));
    expect(calls.filter((c) => c.cmd === "traffic").at(-1)!.args).toEqual({ filter: { ip: null, status: null, text: null, limit: 5000, before: null } });
  });
});

describe("audit", () => {
  it("asks for the last 500 entries", async () => {
    const calls = mockRust({ audit: () => [{ at: "2026-11-22T02:00:00Z", actor: "gui", user: "trader", action: "ban", ip: "203.0.113.7", detail: null, reason: "x" }] });
    start();
    click(byTestId("nav-audit"));
    await vi.waitFor(() => expect(byTestId("audit-table")!.textContent).toContain("this app"));
    expect(calls.find((c) => c.cmd === "audit")!.args).toEqual({ limit: 500 });
  });
});

void BANS;

describe("at rest", () => {
  it("a refresh that brings the same overview redraws nothing, and a changed one redraws", async () => {
    let current = overview();
    mockRust({ overview: () => current });
    start();
    await vi.waitFor(() => expect(byTestId("stat-total-bans")!.textContent).toBe("2"));
    const card = byTestId("stat-total-bans")!;
    const chart = document.querySelector(".chart-slot")!.firstElementChild;
    const warnings = document.querySelector(".warnings")!.firstElementChild;
    expect(chart).not.toBeNull();
    const seen: MutationRecord[] = [];
    const watcher = new MutationObserver((m) => seen.push(...m));
    watcher.observe(document.querySelector(".main")!, { subtree: true, childList: true, characterData: true, attributes: true });
    await app!.refresh();
    await app!.refresh();
    await new Promise((r) => setTimeout(r, 0));
    expect(seen, "nothing in the page changed").toHaveLength(0);
    expect(document.querySelector(".chart-slot")!.firstElementChild).toBe(chart);
    expect(document.querySelector(".warnings")!.firstElementChild).toBe(warnings);
    current = overview({ status: { ...current.status, total_bans: 3 }, warnings: [{ id: "x", level: "warn", title: "New", text: "changed" }] });
    await app!.refresh();
    expect(card.textContent).toBe("3");
    expect(document.querySelector(".warnings")!.firstElementChild).not.toBe(warnings);
    watcher.disconnect();
  });
});
