// Toasts: red for bans and failures, amber for "close to a ban", quiet for the rest. A toast with a
// `key` replaces the earlier one with the same key instead of stacking (16 of 20, 17 of 20, ...).

import { h, ipButton, type Child } from "../dom";

export type Tone = "danger" | "warn" | "ok" | "info";

export interface ToastOptions {
  tone: Tone;
  title: string;
  text?: Child;
  /** The address the toast is about: shown as a link to its detail. */
  ip?: string;
  key?: string;
  /** Milliseconds before it fades; 0 keeps it until closed. */
  timeout?: number;
}

const MAX = 5;
let container: HTMLElement | null = null;
const byKey = new Map<string, HTMLElement>();

/** The toasts container (`data-testid="toasts"`), created on first use. */
export function toastContainer(): HTMLElement {
  if (!container || !container.isConnected) {
    container = h("div", { class: "toasts", "data-testid": "toasts", role: "status", "aria-live": "polite" });
    document.body.appendChild(container);
  }
  return container;
}

export function toast(o: ToastOptions): HTMLElement {
  const box = toastContainer();
  if (o.key) byKey.get(o.key)?.remove();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const el = h(
    "div",
    { class: `toast tone-${o.tone}`, role: o.tone === "danger" ? "alert" : "status" },
    h(
      "div",
      { class: "toast-main" },
      h("div", { class: "toast-title" }, o.title, o.ip ? [" ", ipButton(o.ip)] : null),
      o.text !== undefined && o.text !== null ? h("div", { class: "toast-text" }, o.text) : null,
    ),
    h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss", onclick: () => dismiss() }, "×"),
  );
  function dismiss() {
    if (timer !== undefined) clearTimeout(timer);
    el.remove();
    if (o.key && byKey.get(o.key) === el) byKey.delete(o.key);
  }
  box.appendChild(el);
  if (o.key) byKey.set(o.key, el);
  while (box.children.length > MAX) box.firstElementChild?.remove();
  const ms = o.timeout ?? (o.tone === "danger" ? 12_000 : 7_000);
  if (ms > 0) timer = setTimeout(dismiss, ms);
  return el;
}

/** A command failed: its message in plain words. */
export function toastError(title: string, message: string): HTMLElement {
  return toast({ tone: "danger", title, text: message, timeout: 15_000 });
}
