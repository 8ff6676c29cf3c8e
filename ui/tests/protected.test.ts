// Addresses that can never be banned, addresses already banned, bans about to happen, and "addresses"
// that are not IPs at all: what the tracker tables, the top offenders and the IP links show for each.
import { startApp, type App } from "../src/app";
import { ipLink, isIpAddress } from "../src/dom";
import { offendersChart } from "../src/components/chart";
import { trackerState } from "../src/views/trackers";
import type { Offender, TrackerView } from "../src/ipc";
import { byTestId, click, mockRust, overview, reset, type Call } from "./fixtures";

const NOT_IP = "not an IP address: counted, but there is nothing to ban";

const t = (over: Partial<TrackerView>): TrackerView => ({
  ip: "198.51.100.1",
  kind: "404",
  count: 1,
  threshold: 20,
  first_at: "2026-11-22T01:00:00Z",
  last_at: "2026-11-22T01:05:00Z",
  paths: ["/.env"],
  source: "proxy",
  banned: false,
  protected: null,
  ...over,
});

const TRACKERS: TrackerView[] = [
  t({ ip: "127.0.0.1", count: 34, protected: "loopback", source: "proxy" }),
  t({ ip: "127.0.0.1", count: 6, protected: "loopback", source: "openalgo" }),
  t({ ip: "203.0.113.10", count: 20, banned: true }),
  t({ ip: "198.51.100.60", count: 21 }),
  t({ ip: "198.51.100.61", count: 17 }),
  t({ ip: "", count: 12, protected: NOT_IP }),
  t({ ip: "not-an-ip", count: 3, protected: NOT_IP }),
  t({ ip: "10.0.0.5", kind: "api", count: 12, threshold: 10, key_hashes: ["ab12"], paths: undefined, protected: "in your allow-list" }),
  t({ ip: "192.0.2.44", kind: "api", count: 10, threshold: 10, key_hashes: ["cd34"], paths: undefined, banned: true }),
];

let app: App | null = null;
function start() {
  const mount = document.createElement("div");
  document.body.appendChild(mount);
  app = startApp(mount);
}
afterEach(() => {
  app?.stop();
  app = null;
  reset();
});
const count = (calls: Call[], cmd: string) => calls.filter((c) => c.cmd === cmd).length;

describe("isIpAddress / ipLink", () => {
  it("tells IPv4 and IPv6 addresses from everything else", () => {
    for (const ip of ["203.0.113.7", "0.0.0.0", "255.255.255.255", "2001:db8::1", "::1", "::", "fe80:0:0:0:0:0:0:1", "::ffff:192.0.2.1", "1:2:3:4:5:6:7::"]) {
      expect(isIpAddress(ip), ip).toBe(true);
    }
    for (const ip of ["", "not-an-ip", "unknown", "256.1.1.1", "1.2.3", "01.2.3.4", "1.2.3.4:80", "1:2:3", "2001:db8:::1", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "[::1]", "<img src=x>", " 1.2.3.4"]) {
      expect(isIpAddress(ip), ip).toBe(false);
    }
  });

  it("links IPs, shows the rest as text titled 'not an IP address'", () => {
    const link = ipLink("2001:db8::1");
    expect(link.tagName).toBe("BUTTON");
    expect(link.classList.contains("ip-link")).toBe(true);

    const none = ipLink("");
    expect(none.tagName).toBe("SPAN");
    expect(none.textContent).toBe("(no address)");
    expect(none.classList.contains("ip-none")).toBe(true); // italic in styles.css
    expect(none.title).toBe("not an IP address");

    const raw = ipLink("<img src=x onerror=alert(1)>");
    expect(raw.tagName).toBe("SPAN");
    expect(raw.textContent).toBe("<img src=x onerror=alert(1)>");
    expect(raw.querySelector("img")).toBeNull();
    expect(raw.title).toBe("not an IP address");
  });
});

describe("tracker states", () => {
  it("protected wins over banned, banned over pending, pending at the threshold", () => {
    expect(trackerState(t({ count: 40, protected: "loopback", banned: true }), 0.8)).toBe("protected");
    expect(trackerState(t({ count: 40, banned: true }), 0.8)).toBe("banned");
    expect(trackerState(t({ count: 20 }), 0.8)).toBe("pending");
    expect(trackerState(t({ count: 16 }), 0.8)).toBe("near");
    expect(trackerState(t({ count: 15 }), 0.8)).toBe("counting");
    expect(trackerState(t({ count: 20, protected: undefined, banned: undefined }), 0.8)).toBe("pending");
  });
});

describe("404 tracker table", () => {
  async function open404() {
    const calls = mockRust({ trackers: () => TRACKERS, clear_tracker: () => 1 });
    start();
    click(byTestId("nav-404"));
    await vi.waitFor(() => expect(byTestId("tracker-404-table")!.querySelectorAll("[data-ip]").length).toBe(7));
    return { calls, table: byTestId("tracker-404-table")! };
  }

  it("never offers Ban for a protected address: a muted chip with the reason, a grey bar, Clear still there", async () => {
    const { calls, table } = await open404();
    const rows = [...table.querySelectorAll<HTMLElement>('[data-ip="127.0.0.1"]')];
    expect(rows.length).toBe(2); // OpenAlgo and the nginx log stay separate rows
    expect(byTestId("ban-404-127.0.0.1")).toBeNull();
    expect(table.querySelectorAll('[data-testid="clear-404-127.0.0.1"]').length).toBe(2);
    for (const row of rows) {
      expect(row.classList.contains("is-protected")).toBe(true);
      expect(row.classList.contains("is-near")).toBe(false);
      expect(row.classList.contains("is-pending")).toBe(false);
      const chip = row.querySelector<HTMLElement>(".muted-chip")!;
      expect(chip.title).toBe("loopback");
      expect(chip.textContent).toContain("never banned");
      expect(chip.querySelector(".visually-hidden")!.textContent).toContain("loopback");
      const fill = row.querySelector(".progress-fill")!;
      expect(fill.classList.contains("tone-neutral")).toBe(true);
      expect(fill.classList.contains("tone-danger")).toBe(false);
      expect(row.querySelector("button.danger")).toBeNull();
    }
    // 34 of 20, over the threshold, and still grey.
    expect(rows[0].textContent).toContain("34 of 20");

    click(table.querySelector('[data-testid="clear-404-127.0.0.1"]'));
    click(byTestId("confirm-ok"));
    await vi.waitFor(() => expect(count(calls, "clear_tracker")).toBe(1));
    expect(calls.find((c) => c.cmd === "clear_tracker")!.args).toEqual({ ip: "127.0.0.1", kind: "404" });
  });

  it("shows a red 'banned' chip instead of Ban for a banned address, Clear still there", async () => {
    const { table } = await open404();
    const row = table.querySelector<HTMLElement>('[data-ip="203.0.113.10"]')!;
    expect(byTestId("ban-404-203.0.113.10")).toBeNull();
    expect(byTestId("clear-404-203.0.113.10")).not.toBeNull();
    const chip = row.querySelector(".badge.danger")!;
    expect(chip.textContent).toBe("banned");
    expect(row.classList.contains("is-banned")).toBe(true);
    expect(row.classList.contains("is-pending")).toBe(false);
  });

  it("marks a row at the threshold that is neither banned nor protected as ban pending", async () => {
    const { table } = await open404();
    const pending = table.querySelector<HTMLElement>('[data-ip="198.51.100.60"]')!;
    expect(pending.classList.contains("is-pending")).toBe(true);
    expect(pending.querySelector(".progress-note")!.textContent).toBe("ban pending");
    expect(pending.querySelector(".progress-fill")!.classList.contains("tone-danger")).toBe(true);
    expect(byTestId("ban-404-198.51.100.60")).not.toBeNull();
    const near = table.querySelector<HTMLElement>('[data-ip="198.51.100.61"]')!;
    expect(near.classList.contains("is-near")).toBe(true);
    expect(near.classList.contains("is-pending")).toBe(false);
    expect(near.querySelector(".progress-note")).toBeNull();
    expect(near.querySelector(".progress-fill")!.classList.contains("tone-warn")).toBe(true);
  });

  it("shows addresses that are not IPs as text, not as links to the IP detail", async () => {
    const { table } = await open404();
    const empty = table.querySelector<HTMLElement>('[data-ip=""]')!;
    expect(empty.querySelector(".ip-link")).toBeNull();
    expect(empty.querySelector(".ip-none")!.textContent).toBe("(no address)");
    expect(empty.querySelector<HTMLElement>(".ip-none")!.title).toBe("not an IP address");
    expect(empty.querySelector<HTMLElement>(".muted-chip")!.title).toBe(NOT_IP);
    const raw = table.querySelector<HTMLElement>('[data-ip="not-an-ip"]')!;
    expect(raw.querySelector(".ip-link")).toBeNull();
    expect(raw.querySelector<HTMLElement>(".ip-text")!.textContent).toBe("not-an-ip");
    expect(byTestId("ban-404-not-an-ip")).toBeNull();
    // Real IPs stay links.
    expect(table.querySelector('[data-ip="198.51.100.60"] .ip-link')).not.toBeNull();
  });

  it("finds them with the filter box", async () => {
    const { table } = await open404();
    const filter = table.querySelector<HTMLInputElement>(".vt-filter")!;
    filter.value = "never banned";
    filter.dispatchEvent(new Event("input"));
    await vi.waitFor(() => expect(table.querySelectorAll("[data-ip]").length).toBe(4));
  });
});

describe("invalid API keys table", () => {
  it("treats protected and banned addresses the same way", async () => {
    mockRust({ trackers: () => TRACKERS });
    start();
    click(byTestId("nav-api"));
    await vi.waitFor(() => expect(byTestId("tracker-api-table")!.querySelectorAll("[data-ip]").length).toBe(2));
    const table = byTestId("tracker-api-table")!;
    expect(byTestId("ban-api-10.0.0.5")).toBeNull();
    expect(byTestId("clear-api-10.0.0.5")).not.toBeNull();
    const prot = table.querySelector<HTMLElement>('[data-ip="10.0.0.5"]')!;
    expect(prot.querySelector<HTMLElement>(".muted-chip")!.title).toBe("in your allow-list");
    expect(prot.querySelector(".progress-fill")!.classList.contains("tone-neutral")).toBe(true);
    expect(byTestId("ban-api-192.0.2.44")).toBeNull();
    expect(byTestId("clear-api-192.0.2.44")).not.toBeNull();
    expect(table.querySelector('[data-ip="192.0.2.44"] .badge.danger')!.textContent).toBe("banned");
  });
});

describe("top offenders", () => {
  const o = (over: Partial<Offender>): Offender => ({ ip: "198.51.100.1", score: 5, not_found: 5, api: 0, banned: false, protected: null, ...over });

  it("grey bars and a 'protected' chip for protected ones; banned keep their chip; no link for non-IPs", () => {
    const el = offendersChart(
      [
        o({ ip: "10.0.0.5", score: 30, not_found: 20, api: 10, protected: "in your allow-list" }),
        o({ ip: "203.0.113.10", score: 22, banned: true }),
        o({ ip: "198.51.100.7", score: 12 }),
        o({ ip: "", score: 9, protected: NOT_IP }),
      ],
      20,
    );
    const prot = el.querySelector<HTMLElement>('[data-ip="10.0.0.5"]')!;
    expect(prot.classList.contains("is-protected")).toBe(true);
    const chip = prot.querySelector<HTMLElement>(".muted-chip")!;
    expect(chip.textContent).toContain("protected");
    expect(chip.title).toBe("in your allow-list");
    const parts = [...prot.querySelectorAll(".hbar-part")];
    expect(parts.length).toBe(2);
    for (const p of parts) {
      expect(p.className).toMatch(/s-neutral/);
      expect(p.className).not.toMatch(/s-not_found|s-denied/);
    }
    expect(prot.querySelector(".badge.danger")).toBeNull();

    const banned = el.querySelector<HTMLElement>('[data-ip="203.0.113.10"]')!;
    expect(banned.querySelector(".badge.danger")!.textContent).toBe("banned");
    expect(banned.querySelector(".muted-chip")).toBeNull();
    expect(banned.querySelector(".hbar-part.s-not_found")).not.toBeNull();

    const plain = el.querySelector<HTMLElement>('[data-ip="198.51.100.7"]')!;
    expect(plain.querySelector(".ip-link")).not.toBeNull();
    expect(plain.querySelector(".badge")).toBeNull();

    const none = el.querySelector<HTMLElement>('[data-ip=""]')!;
    expect(none.querySelector(".ip-link")).toBeNull();
    expect(none.querySelector(".ip-none")!.textContent).toBe("(no address)");
  });

  it("on the Overview", async () => {
    mockRust({
      overview: () => overview({ top: [o({ ip: "127.0.0.1", score: 40, not_found: 40, protected: "loopback" }), o({ ip: "203.0.113.10", score: 21, banned: true })] }),
    });
    start();
    await vi.waitFor(() => expect(document.querySelector('.offender[data-ip="127.0.0.1"]')).not.toBeNull());
    expect(document.querySelector<HTMLElement>('.offender[data-ip="127.0.0.1"] .muted-chip')!.title).toBe("loopback");
    expect(document.querySelector('.offender[data-ip="203.0.113.10"] .badge.danger')!.textContent).toBe("banned");
  });
});

describe("traffic and bans", () => {
  it("show non-IP addresses as text", async () => {
    mockRust({
      traffic: () => ({
        rows: [
          { at: "2026-11-22T02:00:00Z", ip: "", method: "GET", path: "/", status: 200, host: null, user_agent: null, source: "access.log" },
          { at: "2026-11-22T02:00:01Z", ip: "unknown", method: "GET", path: "/", status: 200, host: null, user_agent: null, source: "access.log" },
          { at: "2026-11-22T02:00:02Z", ip: "203.0.113.9", method: "GET", path: "/", status: 200, host: null, user_agent: null, source: "access.log" },
        ],
        older: null,
      }),
      bans: () => [{ ip: "unknown", reason: null, banned_at: null, expires_at: null, permanent: true, ban_count: 1, created_by: "x" }],
    });
    start();
    click(byTestId("nav-traffic"));
    await vi.waitFor(() => expect(byTestId("traffic-table")!.querySelectorAll("[data-ip]").length).toBe(3));
    const table = byTestId("traffic-table")!;
    expect(table.querySelectorAll(".ip-link").length).toBe(1);
    expect(table.querySelector('[data-ip=""] .ip-none')!.textContent).toBe("(no address)");
    expect(table.querySelector('[data-ip="unknown"] .ip-text')!.textContent).toBe("unknown");

    click(byTestId("nav-bans"));
    await vi.waitFor(() => expect(byTestId("bans-table")!.querySelector('[data-ip="unknown"]')).not.toBeNull());
    expect(byTestId("bans-table")!.querySelector(".ip-link")).toBeNull();
    expect(byTestId("unban-unknown")).not.toBeNull();
  });
});
