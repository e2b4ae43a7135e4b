// Modal dialogs on the native <dialog> element: showModal() makes the page behind it
// inert, Escape closes it, focus moves into it and back to the opener on close, and Tab
// cycles inside it.

import { h } from "./dom.js";
import { t } from "./i18n.js";

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export function openDialog({ title, content, testid, onClose, wide = false }) {
  const opener = document.activeElement;
  const heading = h("h2", { class: "dialog-title", id: `dlg-${Math.random().toString(36).slice(2)}`, text: title });
  const body = h("div", { class: "dialog-body" }, content);
  const closeButton = h("button", {
    type: "button",
    class: "icon-button dialog-close",
    "aria-label": t("action.close"),
    title: t("action.close"),
    text: "×",
  });
  const dialog = h(
    "dialog",
    { class: wide ? "dialog wide" : "dialog", "aria-labelledby": heading.id, "data-testid": testid },
    h("header", { class: "dialog-header" }, heading, closeButton),
    body,
  );
  closeButton.addEventListener("click", () => dialog.close());
  dialog.addEventListener("keydown", (e) => {
    if (e.key !== "Tab") return;
    const items = [...dialog.querySelectorAll(FOCUSABLE)].filter((el) => el.offsetParent !== null);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  });
  // A click on the backdrop (outside the dialog's box) closes it too.
  dialog.addEventListener("click", (e) => {
    if (e.target !== dialog) return;
    const r = dialog.getBoundingClientRect();
    if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) dialog.close();
  });
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (onClose) onClose(dialog.returnValue);
    if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  const auto = body.querySelector("[autofocus]") || body.querySelector(FOCUSABLE) || closeButton;
  auto.focus();
  return dialog;
}

/** A form row: a label and its control, with an optional hint. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2)}`;
  control.id = id;
  const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint`, text: hint }) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id, text: label }), control, hintEl);
}

/** An inline error box (role=alert), hidden while empty. */
export function errorBox(testid = "form-error") {
  const el = h("p", { class: "form-error", role: "alert", "data-testid": testid });
  el.hidden = true;
  return {
    el,
    show(text) {
      el.textContent = text;
      el.hidden = false;
    },
    clear() {
      el.textContent = "";
      el.hidden = true;
    },
  };
}
