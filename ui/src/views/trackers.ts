// The invalid-API-key tracker and the 404 tracker: who is counting up towards a ban, and how far.

import { h, ipButton } from "../dom";
import { api, type TrackerView } from "../ipc";
import { VirtualTable, type Column } from "../components/table";
import { sourceWords, timeEl } from "../format";
import { chips, page, progress, quickBan, quickClear, type Ctx, type View } from "./common";

const REASON = { api: "Quick ban: invalid API keys", "404": "Quick ban: too many pages not found (404)" };

export function trackerView(ctx: Ctx, kind: "api" | "404"): View {
  const near = () => ctx.overview()?.near_fraction ?? 0.8;
  const columns: Column<TrackerView>[] = [
    { key: "ip", title: "Address", width: "minmax(130px, 1.2fr)", value: (t) => t.ip, cell: (t) => ipButton(t.ip) },
    {
      key: "count",
      title: kind === "api" ? "Attempts" : "Not found",
      width: "150px",
      value: (t) => (t.threshold ? t.count / t.threshold : t.count),
      cell: (t) => progress(t.count, t.threshold, near()),
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
      width: "140px",
      align: "right",
      cell: (t) =>
        h(
          "div",
          { class: "row-actions" },
          h(
            "button",
            {
              type: "button",
              class: "btn small danger",
              "data-testid": `ban-${kind}-${t.ip}`,
              onclick: () => void quickBan(ctx, t.ip, REASON[kind], "48h"),
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
        ),
    },
  ];
  const table = new VirtualTable<TrackerView>({
    testId: kind === "api" ? "tracker-api-table" : "tracker-404-table",
    empty: kind === "api" ? "No invalid API keys tried. All quiet." : "No one is probing for missing pages. All quiet.",
    filterPlaceholder: kind === "api" ? "Filter by address or key hash…" : "Filter by address or path…",
    rowAttrs: (t) => ({ "data-ip": t.ip }),
    rowClass: (t) => (t.threshold && t.count / t.threshold >= near() ? "is-near" : null),
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
          "Addresses asking for pages that do not exist, usually scanners looking for weak spots. Ban blocks one now (48 hours).",
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
