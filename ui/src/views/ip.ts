// IP detail: everything known about one address, ending in its timeline.

import { h, replace } from "../dom";
import { api, type IpDetail, type TimelineItem } from "../ipc";
import { VirtualTable } from "../components/table";
import { expiresIn, num, ruleWords, sourceWords, timeEl } from "../format";
import { card, chips, page, progress, quickClear, type Ctx, type View } from "./common";
import { confirmUnban } from "./bans";

const KIND_WORDS: Record<string, string> = {
  request: "Request",
  ban: "Ban",
  tracker: "Counter",
  offence: "Offence",
  audit: "Action",
};

export function ipView(ctx: Ctx, ip: string): View {
  const summary = h("div", { class: "ip-summary" });
  const bans = h("div");
  const trackers = h("div");
  const lookup = h("input", { type: "text", placeholder: "Another address…", "aria-label": "Look up an address", spellcheck: "false" });
  const timeline = new VirtualTable<TimelineItem>({
    height: 420,
    empty: "Nothing recorded for this address.",
    filterPlaceholder: "Filter the timeline…",
    sort: { key: "at", dir: "desc" },
    columns: [
      { key: "at", title: "When", width: "140px", value: (t) => t.at, cell: (t) => timeEl(t.at) },
      {
        key: "kind",
        title: "What",
        width: "100px",
        value: (t) => t.kind,
        cell: (t) => h("span", { class: `badge kind-${t.kind.replace(/[^a-z]/g, "")}` }, KIND_WORDS[t.kind] ?? t.kind),
      },
      { key: "text", title: "Details", width: "minmax(240px, 1fr)", value: (t) => t.text },
    ],
  });

  const root = page(
    "",
    null,
    h(
      "div",
      { class: "ip-head" },
      h("button", { type: "button", class: "btn ghost", onclick: () => history.back() }, "← Back"),
      h("h1", { class: "ip-title" }, ip),
      h("span", { class: "grow" }),
      h(
        "form",
        {
          class: "inline-form",
          onsubmit: (e: Event) => {
            e.preventDefault();
            const next = lookup.value.trim();
            if (next) ctx.go({ view: "ip", ip: next });
          },
        },
        lookup,
        h("button", { type: "submit", class: "btn" }, "Look up"),
      ),
    ),
    summary,
    h("div", { class: "grid-2" }, card("Bans", bans), card("Counters", trackers)),
    card("Timeline", timeline.el),
  );
  root.setAttribute("data-testid", "view-ip");
  root.querySelector(".page-head")?.remove();

  function draw(d: IpDetail) {
    const banned = d.bans.length > 0;
    replace(
      summary,
      d.protected
        ? h("div", { class: "notice tone-info" }, "This address is protected and can never be banned: ", d.protected)
        : null,
      h(
        "div",
        { class: "ip-facts" },
        h("span", { class: `badge ${banned ? "danger" : "ok"}` }, banned ? "banned" : "not banned"),
        h("span", null, `${num(d.offences)} earlier offence${d.offences === 1 ? "" : "s"}`),
        h("span", { class: "grow" }),
        banned
          ? h("button", { type: "button", class: "btn", onclick: () => void confirmUnban(ctx, d.ip) }, "Unban")
          : d.protected
            ? null
            : h("button", { type: "button", class: "btn danger", onclick: () => ctx.go({ view: "ban", ip: d.ip }) }, "Ban…"),
      ),
    );
    replace(
      bans,
      d.bans.length
        ? h(
            "ul",
            { class: "plain" },
            d.bans.map((b) =>
              h(
                "li",
                null,
                b.permanent ? h("span", { class: "badge danger" }, "permanent") : `expires ${expiresIn(b.expires_at)}`,
                " · banned ",
                timeEl(b.banned_at),
                b.created_by ? ` by ${b.created_by}` : "",
                b.reason ? h("div", { class: "muted" }, b.reason) : null,
              ),
            ),
          )
        : h("p", { class: "muted" }, "Not banned."),
    );
    replace(
      trackers,
      d.trackers.length
        ? h(
            "ul",
            { class: "plain" },
            d.trackers.map((t) =>
              h(
                "li",
                null,
                h("div", { class: "tracker-line" }, h("strong", null, ruleWords(t.kind)), progress(t.count, t.threshold, ctx.overview()?.near_fraction ?? 0.8, { neutral: d.protected !== null })),
                h("div", { class: "muted small" }, "seen by ", sourceWords(t.source), " · first ", timeEl(t.first_at), " · last ", timeEl(t.last_at)),
                t.paths?.length ? chips(t.paths, 6) : null,
                t.key_hashes?.length ? chips(t.key_hashes, 4) : null,
                t.kind === "404" || t.kind === "api"
                  ? h("button", { type: "button", class: "btn small", onclick: () => void quickClear(ctx, d.ip, t.kind as "404" | "api") }, "Clear")
                  : null,
              ),
            ),
          )
        : h("p", { class: "muted" }, "No live counters."),
    );
    timeline.setRows(d.timeline);
  }

  return {
    root,
    async refresh() {
      draw(await api.ipDetail(ip));
    },
    dispose: () => timeline.dispose(),
  };
}
