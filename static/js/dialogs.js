// Modal dialogs: native <dialog> (the page behind is inert), Tab wraps inside, Escape closes,
// focus returns to what opened it.

const FOCUSABLE = [
  "a[href]", "button:not([disabled])", "input:not([disabled]):not([type=hidden])",
  "select:not([disabled])", "textarea:not([disabled])", "[tabindex]:not([tabindex='-1'])",
].join(",");

function focusables(dialog) {
  return [...dialog.querySelectorAll(FOCUSABLE)].filter(
    (node) => !node.closest("[hidden]") && node.getClientRects().length > 0);
}

export function setupDialog(dialog) {
  if (dialog.dataset.ready) return;
  dialog.dataset.ready = "1";
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const nodes = focusables(dialog);
    if (!nodes.length) return;
    const first = nodes[0];
    const last = nodes[nodes.length - 1];
    if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });
  for (const button of dialog.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => dialog.close("cancel"));
  }
  // A click on the backdrop (outside the dialog box) closes it, like Escape.
  dialog.addEventListener("mousedown", (event) => {
    if (event.target !== dialog) return;
    const box = dialog.getBoundingClientRect();
    const inside = event.clientX >= box.left && event.clientX <= box.right
      && event.clientY >= box.top && event.clientY <= box.bottom;
    if (!inside) dialog.close("cancel");
  });
  dialog.addEventListener("close", () => {
    const opener = dialog._opener;
    dialog._opener = null;
    if (opener && document.contains(opener) && !opener.disabled) opener.focus();
  });
}

/** Open `dialog` modally; `focus` is the element to focus first (default: first control). */
export function openDialog(dialog, { focus } = {}) {
  setupDialog(dialog);
  dialog._opener = document.activeElement;
  if (!dialog.open) dialog.showModal();
  const target = focus || focusables(dialog).find((node) => !node.matches("[data-close]"))
    || focusables(dialog)[0];
  if (target) target.focus();
}

const confirmDialog = () => document.getElementById("confirm-dialog");

/** Ask a yes/no question in the confirm dialog; resolves true when the operator confirms. */
export function confirmAction({ title, text, ok = "Apply", danger = false }) {
  const dialog = confirmDialog();
  dialog.querySelector("#confirm-title").textContent = title;
  dialog.querySelector("#confirm-text").textContent = text;
  const okButton = dialog.querySelector("#confirm-ok");
  okButton.textContent = ok;
  okButton.classList.toggle("danger", danger);
  okButton.classList.toggle("primary", !danger);
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    openDialog(dialog, { focus: okButton });
  });
}
