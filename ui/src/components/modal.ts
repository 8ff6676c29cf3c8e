// The confirmation dialog every destructive action goes through. One at a time; Escape or the
// backdrop cancels, Enter on the OK button confirms. Buttons carry `confirm-ok` / `confirm-cancel`.

import { h, type Child } from "../dom";

export interface ConfirmOptions {
  title: string;
  body?: Child;
  ok?: string;
  cancel?: string;
  /** Red OK button for bans and deletions. */
  danger?: boolean;
}

let open: { close: (v: boolean) => void } | null = null;

/** Resolves true when the user confirms, false otherwise. */
export function confirmDialog(o: ConfirmOptions): Promise<boolean> {
  open?.close(false);
  return new Promise((resolve) => {
    const previous = document.activeElement as HTMLElement | null;
    const okBtn = h(
      "button",
      { type: "button", class: o.danger ? "btn danger" : "btn primary", "data-testid": "confirm-ok" },
      o.ok ?? "OK",
    );
    const cancelBtn = h("button", { type: "button", class: "btn", "data-testid": "confirm-cancel" }, o.cancel ?? "Cancel");
    const titleId = `modal-title-${Date.now()}`;
    const dialog = h(
      "div",
      { class: "modal", role: "dialog", "aria-modal": "true", "aria-labelledby": titleId },
      h("h2", { id: titleId }, o.title),
      o.body ? h("div", { class: "modal-body" }, o.body) : null,
      h("div", { class: "modal-actions" }, cancelBtn, okBtn),
    );
    const backdrop = h("div", { class: "modal-backdrop", "data-testid": "modal" }, dialog);

    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.preventDefault();
        close(false);
      } else if (e.key === "Tab") {
        // Keep focus inside the dialog.
        const items = [cancelBtn, okBtn];
        const i = items.indexOf(document.activeElement as HTMLButtonElement);
        e.preventDefault();
        items[(i + (e.shiftKey ? items.length - 1 : 1)) % items.length].focus();
      }
    };
    function close(v: boolean) {
      if (!backdrop.isConnected) return;
      backdrop.remove();
      document.removeEventListener("keydown", onKey, true);
      open = null;
      previous?.focus?.();
      resolve(v);
    }
    okBtn.addEventListener("click", () => close(true));
    cancelBtn.addEventListener("click", () => close(false));
    backdrop.addEventListener("mousedown", (e) => {
      if (e.target === backdrop) close(false);
    });
    document.addEventListener("keydown", onKey, true);
    document.body.appendChild(backdrop);
    open = { close };
    (o.danger ? cancelBtn : okBtn).focus();
  });
}

/** Closes the open dialog, if any, as cancelled. */
export function closeDialog(): void {
  open?.close(false);
}
