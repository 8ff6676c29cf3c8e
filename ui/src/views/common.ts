// What every view shares: the view interface, routes, page and card frames, and running an action
// with its error shown in plain words.

import { h, type Child } from "../dom";
import { api, asError, type CommandError, type DurationChoice, type Overview } from "../ipc";
import { confirmDialog } from "../components/modal";
import { toast, toastError } from "../components/toast";
import { durationLabel, expiresIn, localTime } from "../format";

export type ViewName = "overview" | "bans" | "api" | "404" | "traffic" | "signins" | "incidents" | "ban" | "access" | "checklist" | "settings" | "audit" | "ip";

export interface Route {
  view: ViewName;
  /** The address for "ip"; a pre-filled address for "ban". */
  ip?: string;
}

export interface Ctx {
  /** The latest overview, or null before the first one arrived. */
  overview(): Overview | null;
  go(route: Route): void;
  /** Refresh now (after an action changed something). */
  refreshNow(): void;
}

export interface View {
  root: HTMLElement;
  /** Loads fresh data into the view, keeping scroll positions and what the user typed. */
  refresh(ov: Overview | null): Promise<void>;
  dispose?(): void;
}

export function page(title: string, subtitle: Child, ...children: Child[]): HTMLElement {
  return h(
    "section",
    { class: "page" },
    h("header", { class: "page-head" }, h("h1", null, title), subtitle ? h("p", { class: "muted" }, subtitle) : null),
    ...children,
  );
}

export function card(title: Child, ...children: Child[]): HTMLElement {
  return h("div", { class: "card" }, title ? h("h2", { class: "card-title" }, title) : null, ...children);
}

/** Runs a command for a user action; on failure shows its message and returns undefined. */
export async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    const err: CommandError = asError(e);
    toastError(what, err.message);
    return undefined;
  }
}

/** "Ban 1.2.3.4 for 48 hours?" then the ban; true when banned. */
export async function quickBan(ctx: Ctx, ip: string, reason: string, duration: DurationChoice): Promise<boolean> {
  const ok = await confirmDialog({
    title: `Ban ${ip}?`,
    body: [
      h("p", null, "The address ", h("strong", null, ip), ` will be blocked for ${durationLabel(duration).toLowerCase()}.`),
      h("p", { class: "muted" }, "Reason: ", reason),
    ],
    ok: "Ban",
    danger: true,
  });
  if (!ok) return false;
  const out = await attempt(`Could not ban ${ip}`, () => api.ban(ip, reason, duration));
  if (!out) return false;
  toast({
    tone: "ok",
    title: `Banned ${out.ip}`,
    text: out.permanent ? "Permanently." : `Until ${localTime(out.expires_at)} (${expiresIn(out.expires_at)}).`,
  });
  ctx.refreshNow();
  return true;
}

/** "Clear 1.2.3.4 from the 404 tracker?" then the clear. */
export async function quickClear(ctx: Ctx, ip: string, kind: "404" | "api"): Promise<boolean> {
  const what = kind === "404" ? "not-found (404) counter" : "invalid API key counter";
  const ok = await confirmDialog({
    title: `Clear ${ip}?`,
    body: h("p", null, `This resets the ${what} of `, h("strong", null, ip), ". It does not ban or unban anyone."),
    ok: "Clear",
  });
  if (!ok) return false;
  const n = await attempt(`Could not clear ${ip}`, () => api.clearTracker(ip, kind));
  if (n === undefined) return false;
  toast({ tone: "ok", title: `Cleared ${ip}`, text: `${n} record${n === 1 ? "" : "s"} removed.` });
  ctx.refreshNow();
  return true;
}

/**
 * A count out of a threshold, with a progress bar (amber near, red at the limit). `neutral` (an
 * address that can never be banned) keeps the bar grey whatever the count; `note` ("ban pending") is
 * shown small beside the numbers and in the tooltip.
 */
export function progress(
  count: number,
  threshold: number,
  nearFraction: number,
  opts: { neutral?: boolean; note?: string } = {},
): HTMLElement {
  const frac = threshold > 0 ? Math.min(1, count / threshold) : 0;
  const tone = opts.neutral ? "neutral" : frac >= 1 ? "danger" : frac >= nearFraction ? "warn" : "calm";
  const fill = h("span", { class: `progress-fill tone-${tone}` });
  fill.style.width = `${frac * 100}%`;
  return h(
    "div",
    { class: "progress-cell", title: `${count} of ${threshold}${opts.note ? ` (${opts.note})` : ""}` },
    h("span", { class: "progress-text" }, `${count} of ${threshold}`, opts.note ? h("span", { class: "progress-note" }, opts.note) : null),
    h("span", { class: "progress" }, fill),
  );
}

/** A list of attacker-controlled strings (paths, key hashes) as text chips, the first few shown. */
export function chips(items: string[] | undefined, max = 3): HTMLElement {
  const list = items ?? [];
  const shown = list.slice(0, max);
  const el = h(
    "div",
    { class: "chips" },
    shown.map((p) => h("code", { class: "chip" }, p)),
    list.length > max ? h("span", { class: "muted" }, `+${list.length - max} more`) : null,
  );
  if (list.length) el.title = list.join("\n");
  return el;
}
