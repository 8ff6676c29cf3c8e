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
      open.length ? open.map(findingEl) : h("div", { class: "warning tone-ok" }, h("strong", null, "All clear."), h("span", null, "Nothing on this server needs fixing.")),
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
