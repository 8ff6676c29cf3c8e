// The shell: sidebar, demo banner, the current view, toasts for notices, and live refresh on the
// monitor's events (debounced; a slow safety refresh every minute, never a busy poll).

import { h, OPEN_IP, replace } from "./dom";
import { api, asError, onChanged, onNotice, type Health, type Notice, type Overview } from "./ipc";
import { toast, toastContainer } from "./components/toast";
import { closeDialog } from "./components/modal";
import { statStrip } from "./components/stats";
import { expiresIn, healthWords, localTime, ruleWords } from "./format";
import type { Ctx, Route, View, ViewName } from "./views/common";
import { overviewView } from "./views/overview";
import { bansView } from "./views/bans";
import { trackerView } from "./views/trackers";
import { trafficView } from "./views/traffic";
import { ipView } from "./views/ip";
import { banView } from "./views/ban";
import { settingsView } from "./views/settings";
import { auditView } from "./views/audit";
import { checklistView } from "./views/checklist";
import { accessView } from "./views/access";
import { signinsView } from "./views/signins";
import { incidentsView } from "./views/incidents";

export const REFRESH_DEBOUNCE_MS = 250;
export const SAFETY_REFRESH_MS = 60_000;

const NAV: { view: Exclude<ViewName, "ip">; id: string; label: string }[] = [
  { view: "overview", id: "nav-overview", label: "Overview" },
  { view: "bans", id: "nav-bans", label: "Banned IPs" },
  { view: "api", id: "nav-api", label: "Invalid API keys" },
  { view: "404", id: "nav-404", label: "404 tracker" },
  { view: "traffic", id: "nav-traffic", label: "Traffic" },
  { view: "signins", id: "nav-signins", label: "Sign-ins" },
  { view: "incidents", id: "nav-incidents", label: "Incidents" },
  { view: "ban", id: "nav-ban", label: "Manual ban" },
  { view: "access", id: "nav-access", label: "Access policy" },
  { view: "checklist", id: "nav-checklist", label: "Server checklist" },
  { view: "settings", id: "nav-settings", label: "Settings" },
  { view: "audit", id: "nav-audit", label: "Audit log" },
];

export function parseHash(hash: string): Route {
  const [view, ...rest] = hash.replace(/^#\/?/, "").split("/");
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : undefined;
  if (view === "ip" && arg) return { view: "ip", ip: arg };
  if (view === "ban") return { view: "ban", ip: arg };
  const known = NAV.find((n) => n.view === view);
  return { view: known ? known.view : "overview" };
}

export function routeHash(r: Route): string {
  return `#/${r.view}${r.ip ? `/${encodeURIComponent(r.ip)}` : ""}`;
}

/** The toast for a monitor notice, or null for the quiet ones. `seen` remembers each source's state. */
export function noticeToast(n: Notice, seen: Map<string, Health["state"]>): Parameters<typeof toast>[0] | null {
  switch (n.kind) {
    case "banned":
      return {
        tone: "danger",
        title: "Banned",
        ip: n.ip,
        key: `ban:${n.ip}`,
        text: `${n.reason} (${n.count} of ${n.threshold}). ${n.permanent ? "Permanent." : `Expires ${expiresIn(n.expires_at)}.`}`,
      };
    case "near_threshold":
      return {
        tone: "warn",
        title: "Close to a ban:",
        ip: n.ip,
        key: `near:${n.ip}:${n.rule}`,
        text: `${n.count} of ${n.threshold} ${ruleWords(n.rule)}.`,
      };
    case "source": {
      const id = `${n.name}\u0000${n.path}`;
      const before = seen.get(id);
      seen.set(id, n.health.state);
      if (n.health.state === "ok") {
        return before && before !== "ok" ? { tone: "ok", title: `${n.name} is readable again`, text: n.path, key: `src:${id}` } : null;
      }
      if (before === n.health.state) return null;
      const w = healthWords(n.health);
      return { tone: w.tone === "warn" ? "warn" : "danger", title: `${n.name}: ${w.text}`, text: n.health.detail, key: `src:${id}` };
    }
    case "ban_pending":
      return { tone: "warn", title: "Could not ban yet:", ip: n.ip, text: n.error, key: `pending:${n.ip}` };
    case "burst":
      return { tone: "warn", title: "Burst of requests from", ip: n.ip, text: `${n.count} in a minute (limit ${n.limit}).`, key: `burst:${n.ip}` };
    case "stale_key":
      return {
        tone: "warn",
        title: "A client of yours keeps using an old API key:",
        ip: n.ip,
        text: `${n.count} invalid keys in 24 h, but also successful calls, so it was not banned. Update the key in that program.`,
        key: `stale:${n.ip}`,
      };
    case "sink":
      return n.state === "failing"
        ? { tone: "danger", title: `Bans are not reaching ${n.name}`, text: n.error ?? "", key: `sink:${n.name}` }
        : null;
    case "sign_in":
      return n.new_address
        ? { tone: "warn", title: `New sign-in address for ${n.username}:`, ip: n.ip, text: "If this was not you, change your OpenAlgo password and API key now.", key: `signin:${n.username}:${n.ip}` }
        : null;
    case "delivery":
      return n.working
        ? { tone: "ok", title: `Alerts reach ${n.channel} again`, text: "", key: `delivery:${n.channel}` }
        : { tone: "danger", title: `Alerts are not reaching ${n.channel}`, text: n.error ?? "", key: `delivery:${n.channel}` };
    case "checklist": {
      const bad = n.newly_failing;
      if (bad.length === 1) return { tone: "danger", title: `Server check failing: ${bad[0].title}`, text: bad[0].fix, key: "checklist" };
      if (bad.length > 1) return { tone: "danger", title: `${bad.length} server checks now failing`, text: bad.map((f) => f.title).join("; "), key: "checklist" };
      if (n.fixed.length) return { tone: "ok", title: "Server check fixed", text: n.fixed.map((f) => f.title).join("; "), key: "checklist" };
      return null;
    }
    default:
      return null;
  }
}

export interface App {
  go(route: Route): void;
  refresh(): Promise<void>;
  current(): Route;
  stop(): void;
}

export function startApp(mount: HTMLElement): App {
  let overview: Overview | null = null;
  let route: Route = parseHash(location.hash);
  let view: View | null = null;
  let running: Promise<void> | null = null;
  let pending = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const seenSources = new Map<string, Health["state"]>();
  const unlisten: (() => void)[] = [];

  const navButtons = new Map<string, HTMLButtonElement>();
  const bansBadge = h("span", { class: "nav-badge", hidden: true });
  const checksBadge = h("span", { class: "nav-badge", hidden: true, "data-testid": "checklist-badge", title: "Server checks failing" });
  const nav = h(
    "nav",
    { class: "nav" },
    NAV.map((n) => {
      const b = h(
        "button",
        { type: "button", class: "nav-item", "data-testid": n.id, onclick: () => go({ view: n.view }) },
        h("span", null, n.label),
        n.view === "bans" ? bansBadge : n.view === "checklist" ? checksBadge : null,
      );
      navButtons.set(n.view, b);
      return b;
    }),
  );
  const pulse = h("span", { class: "muted small" }, "Starting…");
  const banner = h("div", { class: "banner-slot" });
  const errorBar = h("div", { class: "error-bar", role: "alert", hidden: true });
  const outlet = h("div", { class: "outlet" });
  const stats = statStrip((to) => go({ view: to }));
  const shell = h(
    "div",
    { class: "shell" },
    h(
      "aside",
      { class: "sidebar" },
      h("div", { class: "brand" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "Warden"),
      nav,
      h("div", { class: "sidebar-foot" }, h("span", { class: "live-dot", "aria-hidden": "true" }), pulse),
    ),
    h("main", { class: "main" }, banner, stats.el, errorBar, outlet),
  );
  replace(mount, shell);
  toastContainer();

  const ctx: Ctx = { overview: () => overview, go, refreshNow: () => schedule(0) };

  function build(r: Route): View {
    switch (r.view) {
      case "bans": return bansView(ctx);
      case "api": return trackerView(ctx, "api");
      case "404": return trackerView(ctx, "404");
      case "traffic": return trafficView();
      case "ban": return banView(ctx, r);
      case "settings": return settingsView(ctx);
      case "audit": return auditView();
      case "checklist": return checklistView();
      case "access": return accessView(ctx);
      case "signins": return signinsView();
      case "incidents": return incidentsView(ctx);
      case "ip": return r.ip ? ipView(ctx, r.ip) : overviewView();
      default: return overviewView();
    }
  }

  function show(r: Route) {
    closeDialog();
    view?.dispose?.();
    route = r;
    view = build(r);
    for (const [name, b] of navButtons) b.classList.toggle("active", name === r.view);
    const label = r.view === "ip" ? r.ip : NAV.find((n) => n.view === r.view)?.label;
    document.title = `Warden — ${label ?? "Overview"}`;
    replace(outlet, view.root);
    outlet.scrollTop = 0;
    void refresh();
  }

  function go(r: Route) {
    const hash = routeHash(r);
    if (hash === routeHash(route) && view) {
      void refresh();
      return;
    }
    show(r);
    if (location.hash !== hash) history.pushState(null, "", hash);
  }

  let shellShown = "";
  function drawShell(ov: Overview) {
    // Nothing is redrawn when nothing changed (the safety refresh of an app at rest).
    const json = JSON.stringify([ov.demo, ov.status, ov.checklist?.fail ?? 0, ov.allow_only]);
    if (json === shellShown) return;
    shellShown = json;
    replace(
      banner,
      ov.demo ? h("div", { class: "demo-banner", "data-testid": "demo-banner", role: "note" }, ov.demo) : null,
      ov.allow_only
        ? h(
            "div",
            { class: "demo-banner mode-banner", "data-testid": "allow-only-banner", role: "note" },
            "Allow-list-only mode is on: only your allowed addresses reach OpenAlgo. ",
            h("button", { type: "button", class: "link", onclick: () => go({ view: "access" }) }, "Access policy"),
          )
        : null,
    );
    stats.update(ov.status);
    bansBadge.hidden = ov.status.total_bans === 0;
    bansBadge.textContent = String(ov.status.total_bans);
    const failing = ov.checklist?.fail ?? 0;
    checksBadge.hidden = failing === 0;
    checksBadge.textContent = String(failing);
  }

  function showError(message: string | null) {
    if (errorBar.hidden === !message && errorBar.textContent === (message ?? "")) return;
    errorBar.hidden = !message;
    errorBar.textContent = message ?? "";
  }

  async function refreshOnce() {
    const v = view;
    let error: string | null = null;
    try {
      overview = await api.overview();
      drawShell(overview);
    } catch (e) {
      error = `Could not read the overview: ${asError(e).message}`;
    }
    try {
      await v?.refresh(overview);
    } catch (e) {
      if (v === view) error = asError(e).message;
    }
    showError(error);
    pulse.textContent = error ? "Trouble reading data" : `Watching · updated ${localTime(new Date().toISOString())}`;
  }

  /** Refreshes the current view and the shell; concurrent calls coalesce into one more round. */
  function refresh(): Promise<void> {
    if (running) {
      pending = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          pending = false;
          await refreshOnce();
        } while (pending);
      } finally {
        running = null;
      }
    })();
    return running;
  }

  function schedule(ms = REFRESH_DEBOUNCE_MS) {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void refresh();
    }, ms);
  }

  const onHash = () => {
    const r = parseHash(location.hash);
    if (routeHash(r) !== routeHash(route)) show(r);
  };
  const onOpenIp = (e: Event) => go({ view: "ip", ip: String((e as CustomEvent).detail) });
  window.addEventListener("popstate", onHash);
  window.addEventListener("hashchange", onHash);
  document.addEventListener(OPEN_IP, onOpenIp);
  const safety = setInterval(() => void refresh(), SAFETY_REFRESH_MS);

  onNotice((n) => {
    const t = noticeToast(n, seenSources);
    if (t) toast(t);
    schedule();
  })
    .then((u) => unlisten.push(u))
    .catch((e) => showError(`Live updates are off: ${asError(e).message}`));
  onChanged(() => schedule())
    .then((u) => unlisten.push(u))
    .catch((e) => showError(`Live updates are off: ${asError(e).message}`));

  show(route);

  return {
    go,
    refresh,
    current: () => route,
    stop() {
      clearInterval(safety);
      if (timer !== undefined) clearTimeout(timer);
      window.removeEventListener("popstate", onHash);
      window.removeEventListener("hashchange", onHash);
      document.removeEventListener(OPEN_IP, onOpenIp);
      unlisten.forEach((u) => u());
      view?.dispose?.();
      view = null;
    },
  };
}
