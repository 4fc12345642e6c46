// Login page: first-admin setup, sign in, forced (or chosen) password change.
import { api, showError, busy } from "./api.js";

const root = document.getElementById("login-root");
const loading = document.getElementById("login-loading");
const forms = {
  login: document.getElementById("login-form"),
  setup: document.getElementById("setup-form"),
  password: document.getElementById("password-form"),
};
const params = new URLSearchParams(location.search);

function nextUrl() {
  const next = root.dataset.next || "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

function show(name) {
  loading.hidden = true;
  for (const [key, form] of Object.entries(forms)) {
    form.hidden = key !== name;
    showError(form.querySelector("[data-error]"), null);
  }
  const first = forms[name].querySelector("input");
  if (first) first.focus();
}

function values(form) {
  return Object.fromEntries(new FormData(form).entries());
}

async function afterSignIn(me) {
  if (me.must_change_password) {
    show("password");
    return;
  }
  location.assign(nextUrl());
}

forms.login.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = forms.login;
  const data = values(form);
  if (!data.login || !data.password) {
    showError(form.querySelector("[data-error]"), missing("Enter your login and password."));
    return;
  }
  await busy(form.querySelector("button[type=submit]"), async () => {
    try {
      const me = await api.post("/api/auth/login", { login: data.login, password: data.password });
      await afterSignIn(me);
    } catch (error) {
      showError(form.querySelector("[data-error]"), error);
      form.elements.password.select();
    }
  });
});

forms.setup.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = forms.setup;
  const data = values(form);
  if (!data.login || !data.password) {
    showError(form.querySelector("[data-error]"), missing("Enter a login and a password."));
    return;
  }
  if (data.password !== data.repeat) {
    showError(form.querySelector("[data-error]"), missing("The two passwords differ."));
    return;
  }
  await busy(form.querySelector("button[type=submit]"), async () => {
    try {
      await api.post("/api/auth/setup", { login: data.login, password: data.password });
      const me = await api.post("/api/auth/login", { login: data.login, password: data.password });
      await afterSignIn(me);
    } catch (error) {
      showError(form.querySelector("[data-error]"), error);
    }
  });
});

forms.password.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = forms.password;
  const data = values(form);
  if (!data.current || !data.new) {
    showError(form.querySelector("[data-error]"),
      missing("Enter your current password and a new one."));
    return;
  }
  if (data.new !== data.repeat) {
    showError(form.querySelector("[data-error]"), missing("The two new passwords differ."));
    return;
  }
  await busy(form.querySelector("button[type=submit]"), async () => {
    try {
      await api.post("/api/auth/password", { current: data.current, new: data.new });
      location.assign(nextUrl());
    } catch (error) {
      showError(form.querySelector("[data-error]"), error);
    }
  });
});

forms.password.querySelector("[data-action=logout]").addEventListener("click", async () => {
  try {
    await api.post("/api/auth/logout");
  } finally {
    location.assign("/login");
  }
});

forms.password.querySelector("[data-action=back]").addEventListener("click", () => {
  location.assign(nextUrl());
});

function missing(detail) {
  return { detail, fields: {}, status: 400, message: detail, isLocal: true };
}

async function start() {
  try {
    const setup = await api.get("/api/auth/setup");
    if (setup.needed) {
      show("setup");
      return;
    }
    let me = null;
    try {
      me = await api.get("/api/auth/me", { quiet401: true });
    } catch (error) {
      if (error.status !== 401 && error.status !== 403) throw error;
    }
    if (!me) {
      show("login");
    } else if (me.must_change_password || params.get("change") === "1") {
      forms.password.querySelector("[data-action=back]").hidden = me.must_change_password;
      show("password");
    } else {
      location.replace(nextUrl());
    }
  } catch (error) {
    loading.hidden = true;
    show("login");
    showError(forms.login.querySelector("[data-error]"), error);
  }
}

start().finally(() => { document.body.dataset.ready = "true"; });
