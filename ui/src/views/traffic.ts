// Traffic: recent requests, newest first, filtered by address, status class and text.

import { h, ipLink } from "../dom";
import { api, asError, type TrafficCursor, type TrafficFilter, type TrafficRow } from "../ipc";
import { VirtualTable } from "../components/table";
import { timeEl } from "../format";
import { page, type View } from "./common";

export const DEFAULT_LIMIT = 5000;
export const MAX_LIMIT = 100_000;

const STATUS = [
  ["", "Any status"],
  ["2xx", "2xx — success"],
  ["3xx", "3xx — redirect"],
  ["4xx", "4xx — client error"],
  ["404", "404 — not found"],
  ["5xx", "5xx — server error"],
];

function statusClass(code: number): string {
  if (code >= 500) return "st-5xx";
  if (code === 404) return "st-404";
  if (code === 401 || code === 403) return "st-denied";
  if (code >= 400) return "st-4xx";
  return "st-ok";
}

/** The limit the user typed, clamped to 1..100 000; null when it is not a whole number. */
export function parseLimit(text: string): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  if (n < 1) return null;
  return Math.min(n, MAX_LIMIT);
}

export function trafficView(): View {
  const ipIn = h("input", { type: "text", placeholder: "Any address", "aria-label": "Address", spellcheck: "false", class: "w-ip" });
  const statusIn = h("select", { "aria-label": "Status" }, STATUS.map(([v, l]) => h("option", { value: v }, l)));
  const textIn = h("input", { type: "search", placeholder: "Path, host or browser contains…", "aria-label": "Text", class: "w-text" });
  const limitIn = h("input", {
    type: "number",
    min: 1,
    max: MAX_LIMIT,
    value: String(DEFAULT_LIMIT),
    "aria-label": "Rows",
    class: "w-num",
  });
  const live = h("input", { type: "checkbox", checked: true, "aria-label": "Live updates" });
  const note = h("span", { class: "muted small" });
  let applied: TrafficFilter = { ip: null, status: null, text: null, limit: DEFAULT_LIMIT };
  // Paging: `starts[i]` is where page i begins (null: the newest). Only one page is held, however
  // long the history; older pages hold still (no live refresh) while they are shown.
  let starts: (TrafficCursor | null)[] = [null];
  let older: TrafficCursor | null = null;
  const pageLabel = h("span", { class: "muted small", "data-testid": "traffic-page" }, "Newest");
  const newerBtn = h("button", { type: "button", class: "btn", disabled: true, "data-testid": "traffic-newer" }, "← Newer");
  const olderBtn = h("button", { type: "button", class: "btn", disabled: true, "data-testid": "traffic-older" }, "Older →");
  let last = 0;
  let trailing: ReturnType<typeof setTimeout> | undefined;

  const table = new VirtualTable<TrafficRow>({
    testId: "traffic-table",
    rowHeight: 32,
    empty: "No requests match.",
    filterPlaceholder: "Narrow these rows…",
    rowAttrs: (r) => ({ "data-ip": r.ip }),
    columns: [
      { key: "at", title: "Time", width: "120px", value: (r) => r.at, cell: (r) => timeEl(r.at) },
      { key: "ip", title: "Address", width: "minmax(150px, 1.3fr)", value: (r) => r.ip, cell: (r) => ipLink(r.ip) },
      { key: "method", title: "Method", width: "70px", value: (r) => r.method },
      { key: "path", title: "Path", width: "minmax(180px, 2.5fr)", value: (r) => r.path },
      {
        key: "status",
        title: "Status",
        width: "84px",
        align: "right",
        value: (r) => r.status,
        cell: (r) => h("span", { class: `status ${statusClass(r.status)}` }, String(r.status)),
      },
      { key: "host", title: "Host", width: "minmax(120px, 1.2fr)", value: (r) => r.host },
      { key: "ua", title: "Browser / client", width: "minmax(140px, 2fr)", value: (r) => r.user_agent },
      { key: "source", title: "From", width: "100px", value: (r) => r.source },
    ],
  });

  const failed = (err: unknown) => {
    note.textContent = `Could not read the traffic: ${asError(err).message}`;
    note.classList.add("error-text");
  };

  async function load() {
    note.classList.remove("error-text");
    last = Date.now();
    const at = starts.length - 1;
    const page = await api.traffic({ ...applied, before: starts[at] });
    table.setRows(page.rows);
    older = page.older;
    olderBtn.disabled = older === null;
    newerBtn.disabled = at === 0;
    const first = at * applied.limit + 1;
    pageLabel.textContent =
      page.rows.length === 0
        ? at === 0 ? "Newest" : "No older requests"
        : `${at === 0 ? "Newest: " : ""}requests ${first.toLocaleString()}–${(first + page.rows.length - 1).toLocaleString()}`;
    note.textContent = "";
  }

  olderBtn.addEventListener("click", () => {
    if (older === null) return;
    starts.push(older);
    void load().catch(failed);
  });
  newerBtn.addEventListener("click", () => {
    if (starts.length <= 1) return;
    starts.pop();
    void load().catch(failed);
  });

  const form = h(
    "form",
    {
      class: "filters",
      novalidate: true,
      onsubmit: (e: Event) => {
        e.preventDefault();
        const limit = parseLimit(limitIn.value);
        limitIn.classList.toggle("invalid", limit === null);
        if (limit === null) {
          note.textContent = `Rows must be a whole number from 1 to ${MAX_LIMIT.toLocaleString()}.`;
          return;
        }
        limitIn.value = String(limit);
        applied = {
          ip: ipIn.value.trim() || null,
          status: statusIn.value || null,
          text: textIn.value.trim() || null,
          limit,
        };
        starts = [null];
        void load().catch(failed);
      },
    },
    h("label", { class: "inline" }, "Address ", ipIn),
    h("label", { class: "inline" }, "Status ", statusIn),
    h("label", { class: "inline" }, "Text ", textIn),
    h("label", { class: "inline" }, "Rows ", limitIn),
    h("button", { type: "submit", class: "btn primary" }, "Show"),
    h("label", { class: "inline toggle", title: "Refresh as new requests arrive" }, live, " Live"),
  );

  const pager = h("div", { class: "filters" }, newerBtn, pageLabel, olderBtn);
  const root = page("Traffic", "Recent requests to OpenAlgo, newest first, a page at a time.", form, pager, note, table.el);
  root.classList.add("page-fill");
  return {
    root,
    async refresh() {
      if ((!live.checked || starts.length > 1) && last) return;
      // Big result sets are re-read at most every 5 s; small ones every second.
      const gap = applied.limit > 20_000 ? 5000 : 1000;
      const wait = last + gap - Date.now();
      if (last && wait > 0) {
        if (trailing === undefined) trailing = setTimeout(() => ((trailing = undefined), void load().catch(failed)), wait);
        return;
      }
      await load();
    },
    dispose() {
      if (trailing !== undefined) clearTimeout(trailing);
      table.dispose();
    },
  };
}
