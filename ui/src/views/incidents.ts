// Incidents: failed sign-ins grouped per address (OpenAlgo's records and 401s on /auth/login),
// attacks marked, with Ban and the address's details.

import { h, ipLink } from "../dom";
import { api, asError, type Incident } from "../ipc";
import { VirtualTable } from "../components/table";
import { timeEl } from "../format";
import { chips, page, quickBan, type Ctx, type View } from "./common";

export const INCIDENT_HOURS = 24;

const SOURCE: Record<string, string> = { openalgo: "OpenAlgo", access_log: "access log", both: "both" };

export function incidentsView(ctx: Ctx): View {
  const problem = h("p", { class: "error-text", role: "alert", hidden: true, "data-testid": "incidents-problem" });
  const table = new VirtualTable<Incident>({
    testId: "incidents-table",
    empty: "No failed sign-ins in the last 24 hours.",
    filterPlaceholder: "Filter by address, user name, browser…",
    sort: { key: "attempts", dir: "desc" },
    rowAttrs: (i) => ({ "data-ip": i.ip }),
    rowClass: (i) => (i.attack ? "row-attack" : null),
    columns: [
      {
        key: "ip",
        title: "Address",
        width: "minmax(150px, 1.2fr)",
        value: (i) => i.ip,
        cell: (i) => h("span", null, ipLink(i.ip), i.attack ? h("span", { class: "badge danger", "data-testid": "attack" }, "attack") : null),
      },
      { key: "attempts", title: "Attempts", width: "90px", align: "right", value: (i) => i.attempts },
      { key: "usernames", title: "User names tried", width: "minmax(160px, 1.5fr)", value: (i) => i.usernames.join(" "), cell: (i) => chips(i.usernames) },
      { key: "ua", title: "Browser or program", width: "minmax(140px, 1.2fr)", value: (i) => i.user_agents.join(" "), cell: (i) => chips(i.user_agents, 1) },
      { key: "first", title: "First", width: "130px", value: (i) => i.first_at, cell: (i) => timeEl(i.first_at) },
      { key: "last", title: "Last", width: "130px", value: (i) => i.last_at, cell: (i) => timeEl(i.last_at) },
      { key: "source", title: "Seen in", width: "100px", value: (i) => SOURCE[i.source] ?? i.source },
      {
        key: "actions",
        title: "",
        width: "150px",
        cell: (i) =>
          h(
            "div",
            { class: "row-actions" },
            i.banned
              ? h("span", { class: "badge danger", title: "A ban of this address is in force" }, "banned")
              : h("button", { type: "button", class: "btn small danger", "data-testid": `ban-incident-${i.ip}`, onclick: () => void quickBan(ctx, i.ip, "Failed sign-ins to OpenAlgo", "24h") }, "Ban"),
            h("button", { type: "button", class: "btn small", onclick: () => ctx.go({ view: "ip", ip: i.ip }) }, "Details"),
          ),
      },
    ],
  });
  const root = page(
    "Incidents",
    "Failed sign-ins to OpenAlgo in the last 24 hours, per address. An address that reaches the limit in Settings is an attack and is banned by itself; your own addresses never are.",
    problem,
    table.el,
  );
  root.classList.add("page-fill");
  return {
    root,
    async refresh() {
      try {
        table.setRows(await api.incidents(INCIDENT_HOURS));
        problem.hidden = true;
      } catch (e) {
        problem.textContent = asError(e).message;
        problem.hidden = false;
        table.setRows([]);
      }
    },
    dispose: () => table.dispose(),
  };
}
