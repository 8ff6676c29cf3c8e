// Sign-ins: who signed in to OpenAlgo, when, from where and with what (a new address marked),
// and the browsers signed in now. From OpenAlgo's own records in openalgo.db.

import { h, ipLink, replace } from "../dom";
import { api, asError, type Session, type SignIn } from "../ipc";
import { VirtualTable } from "../components/table";
import { timeEl } from "../format";
import { card, page, type View } from "./common";

export const SIGNINS_LIMIT = 500;

const HOW: Record<string, string> = { password: "password", totp: "password + 2FA code", resume: "resumed", totp_resume: "2FA, resumed", oauth: "broker" };

export function sessionRow(s: Session): HTMLElement {
  return h(
    "li",
    { class: "session", "data-testid": "session" },
    h("strong", null, s.username),
    " from ",
    ipLink(s.ip),
    h("span", { class: "muted" }, " · signed in "),
    timeEl(s.login_time),
    h("span", { class: "muted" }, " · last seen "),
    timeEl(s.last_seen),
    s.broker ? h("span", { class: "muted" }, ` · ${s.broker}`) : null,
    s.user_agent ? h("div", { class: "muted small ua" }, s.user_agent) : null,
  );
}

export function signinsView(): View {
  const problem = h("p", { class: "error-text", role: "alert", hidden: true, "data-testid": "signins-problem" });
  const sessions = h("ul", { class: "sessions", "data-testid": "sessions" });
  const table = new VirtualTable<SignIn>({
    testId: "signins-table",
    empty: "No successful sign-ins recorded yet.",
    filterPlaceholder: "Filter by user, address, browser…",
    sort: { key: "at", dir: "desc" },
    rowAttrs: (s) => ({ "data-ip": s.ip }),
    rowClass: (s) => (s.new_address ? "row-new" : null),
    columns: [
      { key: "at", title: "When", width: "150px", value: (s) => s.at, cell: (s) => timeEl(s.at) },
      { key: "username", title: "User", width: "110px", value: (s) => s.username },
      {
        key: "ip",
        title: "From",
        width: "minmax(150px, 1fr)",
        value: (s) => s.ip,
        cell: (s) =>
          h(
            "span",
            null,
            ipLink(s.ip),
            s.new_address ? h("span", { class: "badge warn", title: "This user never signed in from this address before", "data-testid": "new-address" }, "new address") : null,
          ),
      },
      { key: "how", title: "How", width: "140px", value: (s) => HOW[s.login_type] ?? s.login_type },
      { key: "broker", title: "Broker", width: "110px", value: (s) => s.broker ?? "" },
      { key: "ua", title: "Browser or program", width: "minmax(160px, 2fr)", value: (s) => s.user_agent ?? "" },
    ],
  });
  const root = page(
    "Sign-ins",
    "Every successful sign-in to OpenAlgo. A new address for a user is marked: if it was not you, change your OpenAlgo password and API key now.",
    problem,
    card("Signed in now", sessions),
    h("div", { class: "table-wrap" }, table.el),
  );
  root.classList.add("page-fill");
  return {
    root,
    async refresh() {
      try {
        const s = await api.signins(SIGNINS_LIMIT);
        problem.hidden = true;
        table.setRows(s.signins);
        replace(sessions, ...(s.sessions.length ? s.sessions.map(sessionRow) : [h("li", { class: "muted" }, "No open sessions.")]));
      } catch (e) {
        problem.textContent = asError(e).message;
        problem.hidden = false;
        table.setRows([]);
        replace(sessions);
      }
    },
    dispose: () => table.dispose(),
  };
}
