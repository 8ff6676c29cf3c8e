// Toasts: newest on top, three at most, 8 s (15 s for red ones), held while the pointer is on them.
import { DANGER_TOAST_MS, MAX_TOASTS, TOAST_MS, toast, toastContainer, toastError } from "../src/components/toast";
import { noticeToast } from "../src/app";

const titles = () => [...toastContainer().querySelectorAll(".toast-title")].map((e) => e.firstChild!.textContent);
const visible = () => toastContainer().querySelectorAll(".toast").length;

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  vi.useRealTimers();
  document.body.replaceChildren();
});

describe("toasts", () => {
  it("keep the container hook", () => {
    toast({ tone: "info", title: "x" });
    expect(document.querySelector('[data-testid="toasts"]')).toBe(toastContainer());
  });

  it("fade after 8 s, red ones after 15 s", () => {
    expect(TOAST_MS).toBe(8000);
    expect(DANGER_TOAST_MS).toBe(15000);
    toast({ tone: "warn", title: "near" });
    toast({ tone: "danger", title: "banned" });
    vi.advanceTimersByTime(7999);
    expect(titles()).toEqual(["banned", "near"]);
    vi.advanceTimersByTime(1);
    expect(titles()).toEqual(["banned"]);
    vi.advanceTimersByTime(15000 - 8000 - 1);
    expect(titles()).toEqual(["banned"]);
    vi.advanceTimersByTime(1);
    expect(visible()).toBe(0);
  });

  it("a banned notice becomes a 15 s toast; command errors too", () => {
    const t = noticeToast(
      { kind: "banned", ip: "1.2.3.4", rule: "404", reason: "Too many 404s", count: 20, threshold: 20, permanent: false, expires_at: null, at: "2026-11-22T00:00:00Z", source: "proxy" },
      new Map(),
    )!;
    toast(t);
    toastError("Could not ban", "nope");
    vi.advanceTimersByTime(14_999);
    expect(visible()).toBe(2);
    vi.advanceTimersByTime(1);
    expect(visible()).toBe(0);
  });

  it("show at most three, newest at the top, dropping the oldest", () => {
    expect(MAX_TOASTS).toBe(3);
    for (const n of ["1", "2", "3"]) toast({ tone: "info", title: n });
    expect(titles()).toEqual(["3", "2", "1"]);
    toast({ tone: "info", title: "4" });
    expect(titles()).toEqual(["4", "3", "2"]);
    toast({ tone: "danger", title: "5" });
    expect(titles()).toEqual(["5", "4", "3"]);
  });

  it("a keyed toast replaces its predecessor and goes to the top", () => {
    toast({ tone: "warn", title: "16 of 20", key: "near:a" });
    toast({ tone: "info", title: "other" });
    toast({ tone: "warn", title: "17 of 20", key: "near:a" });
    expect(titles()).toEqual(["17 of 20", "other"]);
  });

  it("hold their timer while hovered and resume with the time that was left", () => {
    const el = toast({ tone: "info", title: "hover me" });
    vi.advanceTimersByTime(5000);
    el.dispatchEvent(new MouseEvent("mouseenter"));
    vi.advanceTimersByTime(60_000);
    expect(el.isConnected).toBe(true);
    el.dispatchEvent(new MouseEvent("mouseleave"));
    vi.advanceTimersByTime(2999);
    expect(el.isConnected).toBe(true);
    vi.advanceTimersByTime(1);
    expect(el.isConnected).toBe(false);
  });

  it("close with the × button", () => {
    const el = toast({ tone: "danger", title: "x", timeout: 0 });
    el.querySelector<HTMLButtonElement>(".toast-close")!.click();
    expect(el.isConnected).toBe(false);
  });

  it("link real IPs only", () => {
    const a = toast({ tone: "danger", title: "Banned", ip: "203.0.113.9" });
    const b = toast({ tone: "warn", title: "Burst of requests from", ip: "" });
    const c = toast({ tone: "warn", title: "Burst of requests from", ip: "<b>unknown</b>" });
    expect(a.querySelector(".ip-link")!.textContent).toBe("203.0.113.9");
    expect(b.querySelector(".ip-link")).toBeNull();
    expect(b.querySelector(".ip-none")!.textContent).toBe("(no address)");
    expect(c.querySelector(".ip-link")).toBeNull();
    expect(c.querySelector(".ip-text")!.textContent).toBe("<b>unknown</b>");
    expect(c.querySelector("b")).toBeNull();
  });
});
