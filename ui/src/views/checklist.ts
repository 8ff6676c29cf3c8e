// Checklist: what \`warden check\` finds on this server, failures first, each with why and the fix.

import { h, replace } from "../dom";
import { api, type CheckReport, type Finding } from "../ipc";
import { card, page, type View } from "./common";

const WORD: Record<Finding["status"], string> = { fail: "Fix this", warn: "Look at this", unknown: "Could not check", pass: "Fine" };
const TONE: Record<Finding["status"], string> = { fail: "danger", warn: "warn", unknown: "info", pass: "ok" };

function findingEl(f: Finding): HTMLElement {
  return h(
    "div",
    { class: `warning finding tone-${TONE[f.status]}`, "data-finding": f.id, "data-status": f.status },
    h("strong", null, `${WORD[f.status]}: ${f.title}`),
    h("span", null, f.why),
    f.reason ? h("span", { class: "muted" }, `Why it could not be checked: ${f.reason}`) : null,
    f.fix ? h("code", { class: "fix" }, f.fix) : null,
    f.evidence ? h("span", { class: "muted small" }, `Seen: ${f.evidence}`) : null,
  );
}

/** Checks that could not be made for one reason (a missing .env stops a dozen), as one entry. */
function unknownGroup(reason: string, fs: Finding[]): HTMLElement {
  return h(
    "div",
    { class: "warning finding tone-info", "data-unknown-group": "" },
    h("strong", null, `${fs.length} checks could not be made`),
    h("span", { class: "muted" }, `Why they could not be checked: ${reason}`),
    h("span", { class: "small" }, fs.map((f, i) => [i ? ", " : "", h("span", { "data-finding": f.id, "data-status": f.status }, f.title)])),
  );
}

/** The open findings in order, unknowns that share a reason folded into one entry where the first was. */
export function problemEls(open: Finding[]): HTMLElement[] {
  const byReason = new Map<string, Finding[]>();
  for (const f of open) {
    if (f.status === "unknown" && f.reason) byReason.set(f.reason, [...(byReason.get(f.reason) ?? []), f]);
  }
  const out: HTMLElement[] = [];
  for (const f of open) {
    const group = f.status === "unknown" && f.reason ? byReason.get(f.reason)! : null;
    if (!group || group.length < 2) out.push(findingEl(f));
    else if (group[0] === f) out.push(unknownGroup(f.reason!, group));
  }
  return out;
}

export function checklistView(): View {
  const summary = h("p", { class: "muted", "data-testid": "checklist-summary" }, "Checking…");
  const problems = h("div", { class: "warnings", "data-testid": "checklist-problems" });
  const fine = h("ul", { class: "sources", "data-testid": "checklist-fine" });
  const again = h("button", { type: "button", class: "btn", "data-testid": "checklist-recheck" }, "Check again");
  let shown = "";

  function draw(r: CheckReport) {
    const s = r.summary;
    summary.textContent = `${s.fail} to fix, ${s.warn} to look at, ${s.unknown} could not be checked, ${s.pass} fine.`;
    const open = r.findings.filter((f) => f.status !== "pass");
    replace(
      problems,
      open.length ? problemEls(open) : h("div", { class: "warning tone-ok" }, h("strong", null, "All clear."), h("span", null, "Nothing on this server needs fixing.")),
    );
    replace(
      fine,
      r.findings.filter((f) => f.status === "pass").map((f) => h("li", { class: "source tone-ok", "data-finding": f.id }, h("strong", null, f.title), " ", h("span", { class: "muted" }, f.why))),
    );
  }

  async function load(fresh = false) {
    const r = await api.checklist(fresh);
    const json = JSON.stringify(r);
    if (json !== shown) {
      shown = json;
      draw(r);
    }
  }

  again.addEventListener("click", () => {
    again.disabled = true;
    void load(true).finally(() => (again.disabled = false));
  });

  const root = page(
    "Server checklist",
    "OpenAlgo's settings, who can read its files, nginx and open ports on this server. Warden only reads; each problem says how to fix it.",
    h("div", { class: "checklist-head" }, summary, again),
    card("To fix or look at", problems),
    card("Fine", fine),
  );
  return { root, refresh: () => load() };
}
