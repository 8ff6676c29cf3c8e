// Toasts: red for bans and failures, amber for "close to a ban", quiet for the rest. Newest at the
// top, at most three (a fourth pushes the oldest out). Each fades by itself (8 s; 15 s for red ones)
// unless the pointer is on it (or keyboard focus is in it), which holds its timer. A toast with a
// `key` replaces the earlier one with the same key instead of stacking (16 of 20, 17 of 20, ...).

import { h, ipLink, type Child } from "../dom";

export type Tone = "danger" | "warn" | "ok" | "info";

export interface ToastOptions {
  tone: Tone;
  title: string;
  text?: Child;
  /** The address the toast is about: shown as a link to its detail (plain text if it is no IP). */
  ip?: string;
  key?: string;
  /** Milliseconds before it fades; 0 keeps it until closed. Default 8 s, 15 s for "danger". */
  timeout?: number;
}

/** At most this many toasts at once. */
export const MAX_TOASTS = 3;
export const TOAST_MS = 8_000;
export const DANGER_TOAST_MS = 15_000;

let container: HTMLElement | null = null;
const byKey = new Map<string, HTMLElement>();
/** How to take each toast away (its timer included). */
const closers = new WeakMap<Element, () => void>();

/** The toasts container (`data-testid="toasts"`), created on first use. */
export function toastContainer(): HTMLElement {
  if (!container || !container.isConnected) {
    container = h("div", { class: "toasts", "data-testid": "toasts", role: "status", "aria-live": "polite" });
    document.body.appendChild(container);
  }
  return container;
}

function close(el: Element | null | undefined): void {
  if (!el) return;
  const fn = closers.get(el);
  if (fn) fn();
  else el.remove();
}

export function toast(o: ToastOptions): HTMLElement {
  const box = toastContainer();
  if (o.key) close(byKey.get(o.key));
  const ms = o.timeout ?? (o.tone === "danger" ? DANGER_TOAST_MS : TOAST_MS);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let left = ms;
  let startedAt = 0;
  let hovered = false;
  let focused = false;

  function start() {
    if (ms <= 0 || timer !== undefined || hovered || focused) return;
    startedAt = Date.now();
    timer = setTimeout(dismiss, Math.max(0, left));
  }
  function hold() {
    if (timer === undefined) return;
    clearTimeout(timer);
    timer = undefined;
    left -= Date.now() - startedAt;
  }

  const el = h(
    "div",
    {
      class: `toast tone-${o.tone}`,
      role: o.tone === "danger" ? "alert" : "status",
      onmouseenter: () => ((hovered = true), hold()),
      onmouseleave: () => ((hovered = false), start()),
      onfocusin: () => ((focused = true), hold()),
      onfocusout: (e: FocusEvent) => {
        if (e.relatedTarget instanceof Node && el.contains(e.relatedTarget)) return;
        focused = false;
        start();
      },
    },
    h(
      "div",
      { class: "toast-main" },
      h("div", { class: "toast-title" }, o.title, o.ip !== undefined ? [" ", ipLink(o.ip)] : null),
      o.text !== undefined && o.text !== null ? h("div", { class: "toast-text" }, o.text) : null,
    ),
    h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss", onclick: () => dismiss() }, "×"),
  );
  function dismiss() {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    el.remove();
    if (o.key && byKey.get(o.key) === el) byKey.delete(o.key);
  }
  closers.set(el, dismiss);
  box.insertBefore(el, box.firstChild);
  if (o.key) byKey.set(o.key, el);
  while (box.children.length > MAX_TOASTS) close(box.lastElementChild);
  start();
  return el;
}

/** A command failed: its message in plain words. */
export function toastError(title: string, message: string): HTMLElement {
  return toast({ tone: "danger", title, text: message, timeout: DANGER_TOAST_MS });
}
