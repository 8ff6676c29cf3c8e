// The invalid-API-key tracker and the 404 tracker: who is counting up towards a ban, and how far.

import { h, ipLink, protectedChip } from "../dom";
import { api, type TrackerView } from "../ipc";
import { VirtualTable, type Column } from "../components/table";
import { sourceWords, timeEl } from "../format";
import { chips, page, progress, quickBan, quickClear, type Ctx, type View } from "./common";

const REASON = { api: "Quick ban: invalid API keys", "404": "Quick ban: too many pages not found (404)" };

/** Where a counted address stands: can never be banned, banned, about to be banned, near, or counting. */
export type TrackerState = "protected" | "banned" | "pending" | "near" | "counting";

export function trackerState(t: TrackerView, nearFraction: number): TrackerState {
  if (t.protected !== null && t.protected !== undefined) return "protected";
  if (t.banned) return "banned";
  if (t.threshold > 0 && t.count >= t.threshold) return "pending";
  if (t.threshold > 0 && t.count / t.threshold >= nearFraction) return "near";
  return "counting";
}

const ROW_CLASS: Record<TrackerState, string | null> = {
  protected: "is-protected",
  banned: "is-banned",
  pending: "is-pending",
  near: "is-near",
  counting: null,
};

const PENDING = "ban pending";

export function trackerView(ctx: Ctx, kind: "api" | "404"): View {
  const near = () => ctx.overview()?.near_fraction ?? 0.8;
  const columns: Column<TrackerView>[] = [
    { key: "ip", title: "Address", width: "minmax(130px, 1.2fr)", value: (t) => t.ip, cell: (t) => ipLink(t.ip) },
    {
      key: "count",
      title: kind === "api" ? "Attempts" : "Not found",
      width: "150px",
      value: (t) => (t.threshold ? t.count / t.threshold : t.count),
      cell: (t) => {
        const st = trackerState(t, near());
        return progress(t.count, t.threshold, near(), {
          neutral: st === "protected",
          note: st === "pending" ? PENDING : undefined,
        });
      },
    },
    { key: "first", title: "First", width: "130px", value: (t) => t.first_at, cell: (t) => timeEl(t.first_at) },
    { key: "last", title: "Last", width: "130px", value: (t) => t.last_at, cell: (t) => timeEl(t.last_at) },
    kind === "api"
      ? {
          key: "keys",
          title: "Key hashes",
          width: "minmax(160px, 2fr)",
          value: (t) => (t.key_hashes ?? []).join(" "),
          cell: (t) => chips(t.key_hashes, 2),
        }
      : {
          key: "paths",
          title: "Paths tried",
          width: "minmax(180px, 2.5fr)",
          value: (t) => (t.paths ?? []).join(" "),
          cell: (t) => chips(t.paths, 3),
        },
    { key: "source", title: "Seen by", width: "90px", value: (t) => sourceWords(t.source) },
    {
      key: "action",
      title: "",
      width: "170px",
      align: "right",
      sortable: false,
      // Not shown as text, but lets the filter box find "banned", "never banned", "pending", "allow-list"...
      value: (t) => {
        const st = trackerState(t, near());
        return st === "protected" ? `never banned ${t.protected ?? ""}` : st === "banned" ? "banned" : st === "pending" ? PENDING : "";
      },
      cell: (t) => {
        const st = trackerState(t, near());
        return h(
          "div",
          { class: "row-actions" },
          st === "protected"
            ? protectedChip("never banned", t.protected || "This address can never be banned.")
            : st === "banned"
              ? h("span", { class: "badge danger", title: "A ban of this address is in force" }, "banned")
              : h(
                  "button",
                  {
                    type: "button",
                    class: "btn small danger",
                    "data-testid": `ban-${kind}-${t.ip}`,
                    onclick: () => void quickBan(ctx, t.ip, REASON[kind], kind === "404" ? "24h" : "48h"),
                  },
                  "Ban",
                ),
          h(
            "button",
            {
              type: "button",
              class: "btn small",
              "data-testid": `clear-${kind}-${t.ip}`,
              onclick: () => void quickClear(ctx, t.ip, kind),
            },
            "Clear",
          ),
        );
      },
    },
  ];
  const table = new VirtualTable<TrackerView>({
    testId: kind === "api" ? "tracker-api-table" : "tracker-404-table",
    empty: kind === "api" ? "No invalid API keys tried. All quiet." : "No one is probing for missing pages. All quiet.",
    filterPlaceholder: kind === "api" ? "Filter by address or key hash…" : "Filter by address or path…",
    rowAttrs: (t) => ({ "data-ip": t.ip }),
    rowClass: (t) => ROW_CLASS[trackerState(t, near())],
    sort: { key: "count", dir: "desc" },
    columns,
  });
  const root =
    kind === "api"
      ? page(
          "Invalid API keys",
          "Addresses sending wrong OpenAlgo API keys. At the threshold they are banned automatically; Ban does it now (48 hours).",
          table.el,
        )
      : page(
          "404 tracker",
          "Addresses asking for pages that do not exist, usually scanners looking for weak spots. Ban blocks one now (24 hours, as OpenAlgo does for 404s).",
          table.el,
        );
  root.classList.add("page-fill");
  return {
    root,
    async refresh() {
      const all = await api.trackers();
      table.setRows(all.filter((t) => t.kind === kind));
    },
    dispose: () => table.dispose(),
  };
}
