// The only way views build DOM. Strings always become text nodes, so attacker-controlled text (IPs,
// paths, user agents, reasons) can never turn into markup. There is no HTML parsing anywhere in ui/src.

export type Child = Node | string | number | null | undefined | false | Child[];

type Handler = (ev: never) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Handler>;

const PROPS = new Set(["value", "checked", "disabled", "selected", "readOnly", "hidden", "indeterminate"]);
const SVG_NS = "http://www.w3.org/2000/svg";

function applyAttrs(el: Element, attrs: Attrs | null | undefined): void {
  if (!attrs) return;
  for (const [key, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (key === "style") throw new Error("inline style attributes are not allowed (CSP): use a class");
    if (key.startsWith("on")) {
      if (typeof v !== "function") throw new Error(`event attribute ${key} must be a function`);
      el.addEventListener(key.slice(2).toLowerCase(), v as EventListener);
      continue;
    }
    if (typeof v === "function") throw new Error(`attribute ${key} cannot be a function`);
    if (key === "class" || key === "className") {
      el.setAttribute("class", String(v));
    } else if (PROPS.has(key) && key in el) {
      (el as unknown as Record<string, unknown>)[key] = v;
    } else {
      el.setAttribute(key, v === true ? "" : String(v));
    }
  }
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, ...c);
    else if (c instanceof Node) parent.appendChild(c);
    else parent.appendChild(document.createTextNode(String(c)));
  }
}

/** `h("td", { class: "ip" }, untrustedText)`: an HTML element whose string children are text. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  append(el, ...children);
  return el;
}

/** The same for SVG elements (charts). */
export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs);
  append(el, ...children);
  return el;
}

/** Removes every child. */
export function clear(el: Node): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** Replaces the children of `el`. */
export function replace(el: Node, ...children: Child[]): void {
  clear(el);
  append(el, ...children);
}

/** The event that asks the app to open the IP detail view. */
export const OPEN_IP = "warden:open-ip";

/** An IP address as a button that opens its detail view; the address is text, never markup. Views use `ipLink`. */
export function ipButton(ip: string): HTMLButtonElement {
  return h(
    "button",
    {
      type: "button",
      class: "ip-link",
      title: "Show everything about this address",
      onclick: (e: MouseEvent) => {
        e.stopPropagation();
        (e.currentTarget as Element).dispatchEvent(new CustomEvent(OPEN_IP, { detail: ip, bubbles: true }));
      },
    },
    ip,
  );
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX16 = /^[0-9a-fA-F]{1,4}$/;

/**
 * Whether `text` is written like an IPv4 or IPv6 address (syntax only; Rust canonicalizes and decides).
 * Only used to choose between a link to the IP detail view (which refuses anything else) and plain text.
 */
export function isIpAddress(text: string): boolean {
  if (IPV4.test(text)) return true;
  if (!text.includes(":") || text.length > 45) return false;
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const all = [...head, ...tail];
  let units = 0;
  for (let i = 0; i < all.length; i++) {
    const g = all[i];
    if (HEX16.test(g)) units += 1;
    else if (i === all.length - 1 && IPV4.test(g)) units += 2; // ::ffff:192.0.2.1
    else return false;
  }
  return halves.length === 2 ? units <= 7 : units === 8;
}

/**
 * An address as shown anywhere in the UI: a link to its detail view when it is an IP address, plain
 * text otherwise ("(no address)" in italics for an empty one), never markup.
 */
export function ipLink(ip: string): HTMLElement {
  if (isIpAddress(ip)) return ipButton(ip);
  return ip === ""
    ? h("span", { class: "ip-none", title: "not an IP address" }, "(no address)")
    : h("span", { class: "ip-text", title: "not an IP address" }, ip);
}

/**
 * A muted chip for an address that can never be banned: `label` shown, `why` (from Rust: loopback,
 * private range, allow-list, not an IP) as its tooltip and as text for screen readers.
 */
export function protectedChip(label: string, why: string): HTMLElement {
  return h("span", { class: "badge muted-chip", title: why }, label, h("span", { class: "visually-hidden" }, `: ${why}`));
}

/** A labelled form field with a place for its error message (`data-error-for`). */
export function field(name: string, label: string, control: HTMLElement, hint?: Child): HTMLElement {
  if (!control.id) control.id = `f-${name}`;
  return h(
    "div",
    { class: "field", "data-field": name },
    h("label", { for: control.id }, label),
    control,
    hint ? h("div", { class: "hint" }, hint) : null,
    h("div", { class: "field-error", "data-error-for": name, role: "alert" }),
  );
}

/** Debounces `fn` by `ms`. */
export function debounce<A extends unknown[]>(fn: (...a: A) => void, ms: number): (...a: A) => void {
  let t: ReturnType<typeof setTimeout> | undefined;
  return (...a: A) => {
    if (t !== undefined) clearTimeout(t);
    t = setTimeout(() => {
      t = undefined;
      fn(...a);
    }, ms);
  };
}
