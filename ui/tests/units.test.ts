import { noticeToast, parseHash, routeHash } from "../src/app";
import { checkInt, checkPercent, errorSlotName } from "../src/views/settings";
import { parseLimit } from "../src/views/traffic";
import { confirmDialog } from "../src/components/modal";
import type { Health, Notice } from "../src/ipc";

describe("routes", () => {
  it("round-trip through the hash, IPv6 included", () => {
    for (const r of [{ view: "bans" as const }, { view: "ip" as const, ip: "2001:db8::1" }, { view: "ban" as const, ip: "203.0.113.7" }]) {
      expect(parseHash(routeHash(r))).toEqual(r.view === "bans" ? { view: "bans" } : r);
    }
    expect(parseHash("")).toEqual({ view: "overview" });
    expect(parseHash("#/nonsense")).toEqual({ view: "overview" });
    expect(parseHash("#/ban")).toEqual({ view: "ban", ip: undefined });
  });
});

describe("notices", () => {
  const src = (state: Health["state"]): Notice => ({
    kind: "source",
    name: "logs.db",
    path: "/db/logs.db",
    health: state === "ok" ? { state: "ok" } : { state, detail: "database is locked" },
  });

  it("speak up when a source breaks, once, and when it recovers; stay quiet otherwise", () => {
    const seen = new Map<string, Health["state"]>();
    expect(noticeToast(src("ok"), seen)).toBeNull();
    expect(noticeToast(src("locked"), seen)?.tone).toBe("warn");
    expect(noticeToast(src("locked"), seen)).toBeNull();
    expect(noticeToast(src("failing"), seen)?.tone).toBe("danger");
    expect(noticeToast(src("ok"), seen)?.tone).toBe("ok");
    expect(noticeToast(src("ok"), seen)).toBeNull();
  });

  it("red for bans, amber near the threshold, nothing for the quiet kinds", () => {
    const seen = new Map();
    const banned = noticeToast(
      { kind: "banned", ip: "1.2.3.4", rule: "api", reason: "Invalid API keys", count: 10, threshold: 10, permanent: true, expires_at: null, at: "2026-11-22T00:00:00Z", source: "openalgo" },
      seen,
    );
    expect(banned).toMatchObject({ tone: "danger", ip: "1.2.3.4" });
    expect(String(banned!.text)).toContain("Permanent");
    expect(noticeToast({ kind: "near_threshold", ip: "1.2.3.4", rule: "404", count: 16, threshold: 20, source: "proxy", window_start: "2026-11-22T00:00:00Z" }, seen)).toMatchObject({ tone: "warn", key: "near:1.2.3.4:404" });
    expect(noticeToast({ kind: "traffic" }, seen)).toBeNull();
  });
});

describe("form checks", () => {
  it("whole numbers in range", () => {
    expect(checkInt("20", 1, 100)).toBe(20);
    expect(checkInt(" 0 ", 0, 10)).toBe(0);
    expect(checkInt("0", 1, 10)).toBe("Must be from 1 to 10.");
    expect(checkInt("2.5", 1, 10)).toBe("Type a whole number.");
    expect(checkInt("-1", 1, 10)).toBe("Type a whole number.");
    expect(checkInt("", 1, 10)).toBe("Type a whole number.");
  });
  it("percent to fraction", () => {
    expect(checkPercent("80")).toBe(0.8);
    expect(checkPercent("100")).toBe(1);
    expect(checkPercent("12.5")).toBe(0.125);
    expect(typeof checkPercent("0")).toBe("string");
    expect(typeof checkPercent("101")).toBe("string");
    expect(typeof checkPercent("abc")).toBe("string");
  });
  it("server field names map to their slot", () => {
    expect(errorSlotName("access_logs[1].format")).toBe("access_logs");
    expect(errorSlotName("allow.2")).toBe("allow");
    expect(errorSlotName("logs_db")).toBe("logs_db");
  });
  it("traffic limit is clamped to 100 000", () => {
    expect(parseLimit("5000")).toBe(5000);
    expect(parseLimit("250000")).toBe(100_000);
    expect(parseLimit("0")).toBeNull();
    expect(parseLimit("1e5")).toBeNull();
  });
});

describe("confirmation dialog", () => {
  afterEach(() => document.body.replaceChildren());
  it("Escape cancels; OK confirms; the title is text", async () => {
    const p1 = confirmDialog({ title: "Ban <img src=x onerror=alert(1)>?" });
    expect(document.querySelector(".modal img")).toBeNull();
    expect(document.querySelector(".modal h2")!.textContent).toBe("Ban <img src=x onerror=alert(1)>?");
    document.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape" }));
    await expect(p1).resolves.toBe(false);
    expect(document.querySelector('[data-testid="confirm-ok"]')).toBeNull();
    const p2 = confirmDialog({ title: "Sure?" });
    document.querySelector<HTMLElement>('[data-testid="confirm-ok"]')!.click();
    await expect(p2).resolves.toBe(true);
  });
});
