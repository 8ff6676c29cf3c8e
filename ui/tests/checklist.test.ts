// The Server checklist view: failures first with why and fix, attacker- or config-supplied strings as text.
import { startApp, type App } from "../src/app";
import { problemEls } from "../src/views/checklist";
import type { CheckReport } from "../src/ipc";
import { emit } from "@tauri-apps/api/event";
import { byTestId, click, mockRust, overview, reset } from "./fixtures";

let app: App | null = null;
afterEach(() => {
  app?.stop();
  app = null;
  reset();
});

const REPORT: CheckReport = {
  findings: [
    { id: "env.flask_debug", title: "Debug mode", status: "fail", why: "Debug mode runs code for anyone.", fix: "In /opt/oa/.env set FLASK_DEBUG = 'False'", evidence: "/opt/oa/.env:3: FLASK_DEBUG = '<img src=x onerror=alert(1)>'", reason: null },
    { id: "nginx.server_tokens", title: "nginx's version hidden", status: "warn", why: "nginx tells its version.", fix: "server_tokens off;", evidence: null, reason: null },
    { id: "net.exposed_ports", title: "Ports", status: "unknown", why: "Judged from the sockets.", fix: "", evidence: null, reason: "cannot read /proc/net/tcp" },
    { id: "env.csrf", title: "CSRF protection", status: "pass", why: "CSRF protection is on.", fix: "", evidence: null, reason: null },
  ],
  summary: { fail: 1, warn: 1, unknown: 1, pass: 1 },
};

describe("server checklist", () => {
  it("folds checks that could not be made for one reason into one entry, in the first one's place", () => {
    const f = (id: string, status: "fail" | "unknown", reason: string | null) => ({ id, title: `T ${id}`, status, why: "w", fix: "", evidence: null, reason });
    const els = problemEls([
      f("env.a", "fail", null),
      f("env.b", "unknown", "no .env at <b>/x</b>"),
      f("net.c", "unknown", "no /proc"),
      f("env.d", "unknown", "no .env at <b>/x</b>"),
    ]);
    expect(els.length).toBe(3);
    expect(els[0].getAttribute("data-finding")).toBe("env.a");
    expect(els[1].hasAttribute("data-unknown-group")).toBe(true);
    expect(els[1].textContent).toContain("2 checks");
    expect(els[1].textContent).toContain("no .env at <b>/x</b>");
    expect(els[1].querySelector("b")).toBeNull();
    expect([...els[1].querySelectorAll("[data-finding]")].map((e) => e.getAttribute("data-finding"))).toEqual(["env.b", "env.d"]);
    expect(els[2].getAttribute("data-finding")).toBe("net.c");
  });

  it("lists problems first with why, fix and what was seen, as text, and the fine ones apart", async () => {
    let calls = 0;
    mockRust({ checklist: () => (calls++, REPORT) });
    const mount = document.createElement("div");
    document.body.appendChild(mount);
    app = startApp(mount);
    click(byTestId("nav-checklist"));
    await vi.waitFor(() => expect(byTestId("checklist-summary")!.textContent).toBe("1 to fix, 1 to look at, 1 could not be checked, 1 fine."));
    const problems = [...byTestId("checklist-problems")!.querySelectorAll("[data-finding]")].map((e) => e.getAttribute("data-finding"));
    expect(problems).toEqual(["env.flask_debug", "nginx.server_tokens", "net.exposed_ports"]);
    const debug = byTestId("checklist-problems")!.querySelector('[data-finding="env.flask_debug"]')!;
    expect(debug.textContent).toContain("FLASK_DEBUG = 'False'");
    expect(debug.textContent).toContain("<img src=x onerror=alert(1)>");
    expect(debug.querySelector("img")).toBeNull();
    expect(byTestId("checklist-problems")!.textContent).toContain("cannot read /proc/net/tcp");
    expect(byTestId("checklist-fine")!.textContent).toContain("CSRF protection");
    const before = calls;
    click(byTestId("checklist-recheck"));
    await vi.waitFor(() => expect(calls).toBe(before + 1));
  });

  it("asks for a fresh run only from Check again; refreshes read the monitor's latest", async () => {
    const calls = mockRust({ checklist: () => REPORT });
    const mount = document.createElement("div");
    document.body.appendChild(mount);
    app = startApp(mount);
    click(byTestId("nav-checklist"));
    await vi.waitFor(() => expect(calls.filter((c) => c.cmd === "checklist").length).toBe(1));
    expect(calls.find((c) => c.cmd === "checklist")!.args.fresh).toBe(false);
    click(byTestId("checklist-recheck"));
    await vi.waitFor(() => expect(calls.filter((c) => c.cmd === "checklist").length).toBe(2));
    expect(calls.filter((c) => c.cmd === "checklist")[1].args.fresh).toBe(true);
  });

  it("counts failing checks on the sidebar, and a check that starts failing raises a toast with its fix", async () => {
    let fail = 0;
    mockRust({ overview: () => overview({ checklist: { fail, warn: 1, unknown: 0, pass: 10 } }) });
    const mount = document.createElement("div");
    document.body.appendChild(mount);
    app = startApp(mount);
    const badge = byTestId("checklist-badge")!;
    await vi.waitFor(() => expect(badge.hidden).toBe(true));
    fail = 1;
    await emit("warden://notice", {
      kind: "checklist",
      summary: { fail: 1, warn: 1, unknown: 0, pass: 10 },
      newly_failing: [{ ...REPORT.findings[0], title: "Debug <b>mode</b>" }],
      fixed: [],
    });
    const toasts = byTestId("toasts")!;
    await vi.waitFor(() => expect(toasts.querySelector(".tone-danger")?.textContent).toContain("Server check failing: Debug <b>mode</b>"));
    expect(toasts.querySelector(".tone-danger")!.textContent).toContain("FLASK_DEBUG = 'False'");
    expect(toasts.querySelector("b")).toBeNull();
    await vi.waitFor(() => expect(badge.hidden).toBe(false));
    expect(badge.textContent).toBe("1");
    fail = 0;
    await emit("warden://notice", { kind: "checklist", summary: { fail: 0, warn: 1, unknown: 0, pass: 11 }, newly_failing: [], fixed: [REPORT.findings[0]] });
    await vi.waitFor(() => expect(toasts.querySelector(".tone-ok")?.textContent).toContain("Server check fixed"));
    await vi.waitFor(() => expect(badge.hidden).toBe(true));
  });
});
