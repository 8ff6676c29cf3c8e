// Audit log: every ban, unban and clear done by hand (from this app or the command line).

import { h, ipLink } from "../dom";
import { api, type AuditEntry } from "../ipc";
import { VirtualTable } from "../components/table";
import { timeEl } from "../format";
import { page, type View } from "./common";

export const AUDIT_LIMIT = 500;

const ORIGIN: Record<string, string> = { gui: "this app", cli: "command line" };

export function auditView(): View {
  const table = new VirtualTable<AuditEntry>({
    testId: "audit-table",
    empty: "No manual actions yet.",
    filterPlaceholder: "Filter by action, address, reason…",
    sort: { key: "at", dir: "desc" },
    columns: [
      { key: "at", title: "When", width: "150px", value: (a) => a.at, cell: (a) => timeEl(a.at) },
      { key: "action", title: "Action", width: "100px", value: (a) => a.action, cell: (a) => h("span", { class: `badge act-${a.action.replace(/[^a-z]/g, "")}` }, a.action) },
      { key: "ip", title: "Address", width: "minmax(120px, 1fr)", value: (a) => a.ip, cell: (a) => (a.ip ? ipLink(a.ip) : "") },
      { key: "actor", title: "From", width: "110px", value: (a) => ORIGIN[a.actor] ?? a.actor },
      { key: "user", title: "User", width: "100px", value: (a) => a.user },
      { key: "detail", title: "Details", width: "minmax(140px, 1.5fr)", value: (a) => a.detail },
      { key: "reason", title: "Reason", width: "minmax(140px, 1.5fr)", value: (a) => a.reason },
    ],
  });
  const root = page("Audit log", `The last ${AUDIT_LIMIT} things done by hand, newest first.`, table.el);
  root.classList.add("page-fill");
  return {
    root,
    async refresh() {
      table.setRows(await api.audit(AUDIT_LIMIT));
    },
    dispose: () => table.dispose(),
  };
}
