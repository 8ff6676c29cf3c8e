// Banned IPs: every ban in force, with an Unban button that asks first.

import { h, ipLink } from "../dom";
import { api, type BanView } from "../ipc";
import { VirtualTable } from "../components/table";
import { confirmDialog } from "../components/modal";
import { toast } from "../components/toast";
import { expiresIn, num, timeEl } from "../format";
import { attempt, page, type Ctx, type View } from "./common";

export async function confirmUnban(ctx: Ctx, ip: string): Promise<boolean> {
  const ok = await confirmDialog({
    title: `Unban ${ip}?`,
    body: h("p", null, "The address ", h("strong", null, ip), " will be able to reach OpenAlgo again."),
    ok: "Unban",
  });
  if (!ok) return false;
  const n = await attempt(`Could not unban ${ip}`, () => api.unban(ip));
  if (n === undefined) return false;
  toast({ tone: "ok", title: `Unbanned ${ip}`, text: n > 1 ? `${n} bans lifted.` : undefined });
  ctx.refreshNow();
  return true;
}

function expiry(b: BanView): number {
  if (b.permanent) return Number.MAX_SAFE_INTEGER;
  return b.expires_at ? Date.parse(b.expires_at) : Number.MAX_SAFE_INTEGER - 1;
}

export function bansView(ctx: Ctx): View {
  const table = new VirtualTable<BanView>({
    testId: "bans-table",
    empty: "Nobody is banned. All quiet.",
    filterPlaceholder: "Filter by address, reason, who…",
    rowAttrs: (b) => ({ "data-ip": b.ip }),
    rowClass: (b) => (b.permanent ? "is-permanent" : null),
    sort: { key: "banned_at", dir: "desc" },
    columns: [
      { key: "ip", title: "Address", width: "minmax(130px, 1.2fr)", value: (b) => b.ip, cell: (b) => ipLink(b.ip) },
      { key: "reason", title: "Reason", width: "minmax(160px, 2fr)", value: (b) => b.reason },
      { key: "banned_at", title: "Banned at", width: "150px", value: (b) => b.banned_at, cell: (b) => timeEl(b.banned_at) },
      {
        key: "expires",
        title: "Expires",
        width: "120px",
        value: expiry,
        cell: (b) =>
          b.permanent
            ? h("span", { class: "badge danger" }, "permanent")
            : h("span", { title: b.expires_at ?? "" }, expiresIn(b.expires_at)),
      },
      { key: "count", title: "Bans", width: "70px", align: "right", value: (b) => b.ban_count, cell: (b) => num(b.ban_count) },
      { key: "by", title: "From", width: "minmax(120px, 1.2fr)", value: (b) => b.origin, cell: (b) => h("span", { title: b.created_by ?? "" }, b.origin) },
      {
        key: "action",
        title: "",
        width: "96px",
        align: "right",
        cell: (b) =>
          h(
            "button",
            { type: "button", class: "btn small", "data-testid": `unban-${b.ip}`, onclick: () => void confirmUnban(ctx, b.ip) },
            "Unban",
          ),
      },
    ],
  });
  const root = page("Banned IPs", "Addresses blocked right now. Unban lets one back in.", table.el);
  root.classList.add("page-fill");
  return {
    root,
    async refresh() {
      table.setRows(await api.bans());
    },
    dispose: () => table.dispose(),
  };
}
