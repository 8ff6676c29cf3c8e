// The Access policy view: entries as text with their time left, the form's call, removal after a
// confirmation, the allow-list-only mode with who it would cut off, and the banner on every view.
import { startApp, type App } from "../src/app";
import type { AccessView, AllowOnlyPlan } from "../src/ipc";
import { byTestId, click, mockRust, overview, reset } from "./fixtures";

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

const VIEW: AccessView = {
  policies: [
    { value: "203.0.113.0/24", policy: "deny", ttl_seconds: 7200, expires_at: new Date(Date.now() + 7_000_000).toISOString(), created_at: "2026-12-04T10:00:00Z", reason: "<img src=x onerror=alert(1)>", created_by: "cli" },
    { value: "198.51.100.7", policy: "allow", ttl_seconds: null, expires_at: null, created_at: "2026-12-04T09:00:00Z", reason: "office", created_by: "gui" },
  ],
  allow_only: false,
  admitted: ["127.0.0.0/8", "198.51.100.7", "::1"],
  sinks: [
    { name: "nginx", state: "failing", entries: 0, applied_at: null, error: "nginx's check refused the new ban list" },
    { name: "nftables", state: "off", entries: 0, applied_at: null, error: null },
  ],
};

describe("access policy", () => {
  it("lists entries as text with their time left, and adds one with the chosen time to live", async () => {
    const calls = mockRust({ access: () => VIEW, add_policy: (a) => ({ ...VIEW.policies[0], value: a.value, policy: a.policy, expires_at: null }) });
    start();
    click(byTestId("nav-access"));
    await vi.waitFor(() => expect(byTestId("policies-table")!.querySelectorAll("[data-value]").length).toBe(2));
    const table = byTestId("policies-table")!;
    expect(table.textContent).toContain("<img src=x onerror=alert(1)>");
    expect(table.querySelector("img")).toBeNull();
    expect(table.querySelector('[data-value="198.51.100.7"]')!.textContent).toContain("until removed");
    expect(table.querySelector('[data-value="203.0.113.0/24"]')!.textContent).toMatch(/in (1|2) h/);
    expect(byTestId("sinks")!.querySelector('[data-sink="nginx"]')!.textContent).toContain("nginx's check refused");
    (byTestId("policy-value") as HTMLInputElement).value = "192.0.2.0/24";
    (byTestId("policy-ttl") as HTMLSelectElement).value = "custom";
    byTestId("policy-ttl")!.dispatchEvent(new Event("change"));
    (byTestId("policy-seconds") as HTMLInputElement).value = "90";
    click(byTestId("policy-add"));
    await vi.waitFor(() => expect(calls.some((c) => c.cmd === "add_policy")).toBe(true));
    expect(calls.find((c) => c.cmd === "add_policy")!.args).toEqual({ policy: "deny", value: "192.0.2.0/24", ttl: "90", reason: "" });
    await vi.waitFor(() => expect(byTestId("policy-outcome")!.textContent).toContain("Denied 192.0.2.0/24"));
  });

  it("removes an entry only after a confirmation", async () => {
    const calls = mockRust({ access: () => VIEW, remove_policy: () => VIEW.policies[1] });
    start();
    click(byTestId("nav-access"));
    await vi.waitFor(() => expect(byTestId("policy-rm-198.51.100.7")).not.toBeNull());
    click(byTestId("policy-rm-198.51.100.7"));
    await vi.waitFor(() => expect(byTestId("confirm-ok")).not.toBeNull());
    expect(calls.some((c) => c.cmd === "remove_policy")).toBe(false);
    click(byTestId("confirm-ok"));
    await vi.waitFor(() => expect(calls.find((c) => c.cmd === "remove_policy")?.args).toEqual({ value: "198.51.100.7" }));
  });

  it("names who would be cut off before turning allow-only on, refuses when it would lock you out, and shows a banner while on", async () => {
    let plan: AllowOnlyPlan = { admitted: VIEW.admitted, refused: [["203.0.113.9", 120], ["<b>x</b>", 3]], blocked: null };
    let on = false;
    const calls = mockRust({
      access: () => ({ ...VIEW, allow_only: on }),
      allow_only_plan: () => plan,
      set_allow_only: (a) => ((on = a.on as boolean), on),
      overview: () => overview({ allow_only: on }),
    });
    start();
    click(byTestId("nav-access"));
    await vi.waitFor(() => expect(byTestId("allow-only-toggle")!.textContent).toBe("Turn on…"));
    click(byTestId("allow-only-toggle"));
    await vi.waitFor(() => expect(byTestId("allow-only-cut-off")).not.toBeNull());
    expect(byTestId("allow-only-cut-off")!.textContent).toContain("203.0.113.9 (120 requests)");
    expect(byTestId("allow-only-cut-off")!.querySelector("b")).toBeNull();
    click(byTestId("confirm-ok"));
    await vi.waitFor(() => expect(calls.find((c) => c.cmd === "set_allow_only")?.args).toEqual({ on: true }));
    await vi.waitFor(() => expect(byTestId("allow-only-banner")).not.toBeNull());
    click(byTestId("nav-bans"));
    await vi.waitFor(() => expect(byTestId("allow-only-banner")).not.toBeNull());
    // Blocked: the reason, and no call.
    on = false;
    plan = { ...plan, blocked: "refusing to turn on allow-list-only mode: nothing but loopback is allowed" };
    click(byTestId("nav-access"));
    await vi.waitFor(() => expect(byTestId("allow-only-toggle")!.textContent).toBe("Turn on…"));
    const before = calls.filter((c) => c.cmd === "set_allow_only").length;
    click(byTestId("allow-only-toggle"));
    await vi.waitFor(() => expect(document.querySelector(".modal")!.textContent).toContain("nothing but loopback"));
    click(byTestId("confirm-ok"));
    await new Promise((r) => setTimeout(r, 50));
    expect(calls.filter((c) => c.cmd === "set_allow_only").length).toBe(before);
  });
});
