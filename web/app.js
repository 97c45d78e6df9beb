/* The developer page: plain JavaScript, no framework, no build step.
 *
 * It talks to two services only: the user pool (Cognito's public JSON API: SignUp, ConfirmSignUp,
 * ResendConfirmationCode, InitiateAuth with USER_PASSWORD_AUTH, GlobalSignOut) and the platform's
 * developer API with the ID token. Configuration comes from config.json, written at deploy.
 * Tokens live in sessionStorage (this tab only, gone when it closes); the new key's secret lives
 * only in a variable and the DOM until the user dismisses it or reloads.
 */
"use strict";

const SESSION = "vs.session";
const REGISTRATION = "vs.registration";
const INVITATION = "vs.invitation";
let config = null;
let products = null;

const $ = (id) => document.getElementById(id);

function say(text) {
  $("alert").textContent = "";
  $("notice").textContent = text;
}

function complain(text) {
  $("notice").textContent = "";
  $("alert").textContent = text;
}

function quiet() {
  $("notice").textContent = "";
  $("alert").textContent = "";
}

// -- the user pool ---------------------------------------------------------------------------------
class CognitoError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

async function cognito(operation, body) {
  let response;
  try {
    response = await fetch(config.cognito_endpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityProviderService.${operation}`,
      },
      body: JSON.stringify(body),
    });
  } catch (_error) {
    throw new CognitoError("NetworkError", "The sign-in service cannot be reached. Check your connection.");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const code = String(data.__type || "Error").split("#").pop();
    throw new CognitoError(code, data.message || data.Message || "The sign-in service refused the request.");
  }
  return data;
}

function session() {
  try {
    const value = JSON.parse(sessionStorage.getItem(SESSION) || "null");
    if (value && value.expires > Date.now()) return value;
  } catch (_error) {
    /* a damaged value is no session */
  }
  sessionStorage.removeItem(SESSION);
  return null;
}

function claims(idToken) {
  const part = idToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(decodeURIComponent(escape(atob(part))));
}

// -- the developer API --------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const current = session();
  if (!current) {
    showView("signin");
    throw new ApiError(401, "InvalidToken", "Your session ended: sign in again.");
  }
  let response;
  try {
    response = await fetch(config.api_url.replace(/\/$/, "") + path, {
      method,
      headers: {
        Authorization: `Bearer ${current.idToken}`,
        ...(body ? { "Content-Type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (_error) {
    throw new ApiError(0, "NetworkError", "The platform cannot be reached. Check your connection.");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data.error || {};
    if (response.status === 401) {
      sessionStorage.removeItem(SESSION);
      showView("signin");
    }
    throw new ApiError(response.status, error.code || "Error", error.message || `Request failed (${response.status}).`);
  }
  return data;
}

// -- views ------------------------------------------------------------------------------------------
const PRIVATE = new Set(["keys", "usage", "subscription", "launch", "team"]);
const LOADERS = { keys: loadKeys, usage: loadUsage, subscription: loadSubscription, launch: loadLaunch, team: loadTeam };

function showView(name) {
  const signedIn = Boolean(session());
  let view = name;
  if (PRIVATE.has(view) && !signedIn) view = "signin";
  if (!PRIVATE.has(view) && signedIn && view !== "confirm") view = "keys";
  if (!$(`view-${view}`)) view = signedIn ? "keys" : "signin";
  for (const section of document.querySelectorAll("main > section")) {
    section.hidden = section.id !== `view-${view}`;
  }
  $("nav").hidden = !signedIn;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${$(`view-${view}`).dataset.title} · ${products ? products.product : "Developer page"}`;
  $("register-hint").hidden = !sessionStorage.getItem(REGISTRATION);
  if (location.hash !== `#${view}`) history.replaceState(null, "", `#${view}`);
  const loader = LOADERS[view];
  if (loader) loader().catch((error) => complain(error.message));
  return view;
}

function route() {
  const hash = location.hash.slice(1);
  if (hash.startsWith("register=")) {
    // AWS Marketplace's token, put here by the fulfillment endpoint. Kept for this tab only and
    // taken out of the address bar at once, so it is not bookmarked, shared or left in history.
    const token = decodeURIComponent(hash.slice("register=".length));
    if (token) sessionStorage.setItem(REGISTRATION, token);
    history.replaceState(null, "", location.pathname);
    if (session()) {
      showView("keys");
      registerSubscription();
    } else {
      showView("signin"); // its hint says why: finish the AWS Marketplace subscription
    }
    return;
  }
  if (hash.startsWith("invitation=")) {
    // A team invitation link from the email: kept for this tab, taken out of the address bar.
    const id = decodeURIComponent(hash.slice("invitation=".length));
    if (/^inv-[a-z2-7]{26}$/.test(id)) sessionStorage.setItem(INVITATION, id);
    history.replaceState(null, "", location.pathname);
    if (session()) acceptInvitation();
    else {
      showView("signin");
      say("Sign in (or create an account) with the invited email address to join the team.");
    }
    return;
  }
  showView(hash || "signin");
}

// -- sign up, confirm, sign in, sign out ----------------------------------------------------------------
let pendingEmail = "";

async function onSignUp(event) {
  event.preventDefault();
  const email = $("signup-email").value.trim();
  const password = $("signup-password").value;
  if (!email || !password) return complain("Enter an email address and a password.");
  try {
    await cognito("SignUp", { ClientId: config.user_pool_client_id,
      Username: email,
      Password: password,
      UserAttributes: [{ Name: "email", Value: email }],
    });
  } catch (error) {
    return complain(signUpMessage(error));
  }
  pendingEmail = email;
  $("confirm-email-shown").textContent = email;
  showView("confirm");
  say("Account created. Check your email for the confirmation code.");
  $("confirm-code").focus();
}

function signUpMessage(error) {
  if (error.code === "UsernameExistsException") return "An account with this email already exists: sign in instead.";
  if (error.code === "InvalidPasswordException") return `That password is not accepted: ${error.message}`;
  return error.message;
}

async function onConfirm(event) {
  event.preventDefault();
  const code = $("confirm-code").value.trim();
  if (!code) return complain("Enter the code from the email.");
  try {
    await cognito("ConfirmSignUp", { ClientId: config.user_pool_client_id, Username: pendingEmail, ConfirmationCode: code });
  } catch (error) {
    if (error.code === "CodeMismatchException") return complain("That code is not right. Check the email and try again.");
    if (error.code === "ExpiredCodeException") return complain("That code has expired: send a new one.");
    return complain(error.message);
  }
  $("signin-email").value = pendingEmail;
  showView("signin");
  say("Email confirmed. Sign in with your password.");
  $("signin-password").focus();
}

async function onResend() {
  try {
    await cognito("ResendConfirmationCode", { ClientId: config.user_pool_client_id, Username: pendingEmail });
    say("A new code is on its way.");
  } catch (error) {
    complain(error.message);
  }
}

async function onSignIn(event) {
  event.preventDefault();
  const email = $("signin-email").value.trim();
  const password = $("signin-password").value;
  if (!email || !password) return complain("Enter your email address and password.");
  let result;
  try {
    result = await cognito("InitiateAuth", { ClientId: config.user_pool_client_id,
      AuthFlow: "USER_PASSWORD_AUTH",
      AuthParameters: { USERNAME: email, PASSWORD: password },
    });
  } catch (error) {
    if (error.code === "UserNotConfirmedException") {
      pendingEmail = email;
      $("confirm-email-shown").textContent = email;
      showView("confirm");
      return complain("Confirm your email first: enter the code we sent you.");
    }
    if (error.code === "NotAuthorizedException") return complain("Wrong email or password.");
    return complain(error.message);
  }
  const tokens = result.AuthenticationResult;
  if (!tokens) return complain("This account needs a sign-in step this page does not support yet.");
  $("signin-password").value = "";
  sessionStorage.setItem(
    SESSION,
    JSON.stringify({
      idToken: tokens.IdToken,
      accessToken: tokens.AccessToken,
      email: claims(tokens.IdToken).email,
      expires: Date.now() + (tokens.ExpiresIn || 3600) * 1000,
    }),
  );
  quiet();
  showView("keys");
  if (sessionStorage.getItem(REGISTRATION)) await registerSubscription();
  if (sessionStorage.getItem(INVITATION)) await acceptInvitation();
}

async function onSignOut() {
  const current = session();
  sessionStorage.removeItem(SESSION);
  clearSecret();
  if (current) {
    // Ends the refresh and access tokens at Cognito too; a failure leaves only this tab signed out.
    cognito("GlobalSignOut", { AccessToken: current.accessToken }).catch(() => {});
  }
  showView("signin");
  say("You are signed out.");
}

// -- AWS Marketplace registration ------------------------------------------------------------------
async function registerSubscription() {
  const token = sessionStorage.getItem(REGISTRATION);
  if (!token) return;
  const box = $("registration");
  box.hidden = false;
  box.textContent = "Linking your AWS Marketplace subscription…";
  try {
    const result = await api("POST", "/v1/marketplace/registrations", { registration_token: token });
    sessionStorage.removeItem(REGISTRATION);
    box.textContent = `Your AWS Marketplace subscription is linked (AWS account ${result.aws_account_id}, status ${result.status}).`;
    say("Subscription linked.");
  } catch (error) {
    if (error.code === "InvalidRegistrationToken") {
      sessionStorage.removeItem(REGISTRATION);
      box.textContent =
        "Your AWS Marketplace link has expired or is not valid. Go back to AWS Marketplace and choose " +
        "“Set up your account” again.";
    } else if (error.status === 409) {
      sessionStorage.removeItem(REGISTRATION);
      box.textContent =
        "This AWS Marketplace subscription is already linked to another account. Sign in with that " +
        "account, or contact support.";
    } else {
      box.textContent = `Your subscription could not be linked yet (${error.message}). Reload to try again.`;
    }
    complain(box.textContent);
  }
}

// -- keys -------------------------------------------------------------------------------------------
function day(timestamp) {
  return timestamp ? timestamp.slice(0, 10) : "never";
}

async function loadKeys() {
  const { keys } = await api("GET", "/v1/keys");
  const body = $("keys-table").tBodies[0];
  body.replaceChildren();
  if (!keys.length) {
    const row = body.insertRow();
    const cell = row.insertCell();
    cell.colSpan = 8;
    cell.textContent = "No keys yet.";
    return;
  }
  for (const key of keys) {
    const row = body.insertRow();
    const code = document.createElement("code");
    code.textContent = key.access_key;
    row.insertCell().append(code);
    row.insertCell().textContent = key.label || "";
    row.insertCell().textContent = key.status;
    row.insertCell().textContent = day(key.expires_at);
    row.insertCell().textContent = day(key.last_used_at);
    row.insertCell().textContent = key.created_by || "";
    const stacks = key.stacks || [];
    row.insertCell().textContent = stacks.length
      ? stacks.map((s) => `${s.stack_name || s.stack_id} (${s.aws_account_id}, ${s.region})`).join("; ")
      : "none";
    const actions = row.insertCell();
    if (key.status === "active") {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "danger";
      button.textContent = "Revoke";
      button.setAttribute("aria-label", `Revoke key ${key.access_key}`);
      button.addEventListener("click", () => revokeKey(key.access_key, stacks));
      actions.append(button);
    }
  }
}

async function onCreateKey(event) {
  event.preventDefault();
  const days = Number($("key-expiry").value);
  const expires = new Date(Date.now() + days * 86400000);
  expires.setUTCHours(0, 0, 0, 0);
  const label = $("key-label").value.trim();
  try {
    const key = await api("POST", "/v1/keys", {
      ...(label ? { label } : {}),
      expires_at: expires.toISOString().replace(/\.\d{3}Z$/, "Z"),
    });
    $("new-access-key").textContent = key.access_key;
    $("new-secret-key").textContent = key.secret_key;
    $("new-secret").hidden = false;
    $("key-label").value = "";
    say(`Key ${key.access_key} created. Copy its secret key now.`);
    $("copy-secret").focus();
  } catch (error) {
    return complain(error.message);
  }
  await loadKeys();
}

function clearSecret() {
  $("new-secret-key").textContent = "";
  $("new-access-key").textContent = "";
  $("new-secret").hidden = true;
}

async function onCopySecret() {
  try {
    await navigator.clipboard.writeText($("new-secret-key").textContent);
    say("Secret key copied to the clipboard.");
  } catch (_error) {
    complain("The browser did not allow copying: select the secret key and copy it yourself.");
  }
}

async function revokeKey(accessKey, stacks = []) {
  const live = stacks.map((s) => `${s.stack_name || s.stack_id} (${s.aws_account_id}, ${s.region})`).join("; ");
  const question = stacks.length
    ? `Revoke key ${accessKey}? These stacks use it and stop working at once: ${live}.`
    : `Revoke key ${accessKey}? Stacks that use it stop working at once.`;
  if (!window.confirm(question)) return;
  // The API refuses (409) to revoke a key live stacks use unless the caller confirms it saw them.
  const confirmed = stacks.length ? "?confirm=true" : "";
  try {
    await api("DELETE", `/v1/keys/${encodeURIComponent(accessKey)}${confirmed}`);
    say(`Key ${accessKey} revoked.`);
  } catch (error) {
    return complain(error.message);
  }
  await loadKeys();
}

// -- usage ------------------------------------------------------------------------------------------
const SVG = "http://www.w3.org/2000/svg";

function svg(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function chart(dimension, days, quantities) {
  const width = 600;
  const height = 180;
  const left = 48;
  const bottom = 24;
  const top = 12;
  const max = Math.max(1, ...quantities);
  const slot = (width - left) / days.length;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `chart-${dimension}-title` });
  root.append(svg("title", { id: `chart-${dimension}-title` }, `${dimension} per day, highest ${max}`));
  root.append(svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom }));
  root.append(svg("text", { x: 0, y: top + 4 }, String(max)));
  root.append(svg("text", { x: 0, y: height - bottom }, "0"));
  days.forEach((date, index) => {
    const value = quantities[index];
    const barHeight = ((height - bottom - top) * value) / max;
    const bar = svg("rect", {
      x: left + index * slot + 1,
      y: height - bottom - barHeight,
      width: Math.max(1, slot - 2),
      height: barHeight,
      "data-date": date,
      "data-quantity": value,
    });
    bar.append(svg("title", {}, `${date}: ${value}`));
    root.append(bar);
    if (index % 7 === 0) root.append(svg("text", { x: left + index * slot, y: height - 6 }, date.slice(5)));
  });
  const figure = document.createElement("figure");
  figure.className = "chart";
  figure.dataset.dimension = dimension;
  const caption = document.createElement("figcaption");
  caption.textContent = `${dimension}${unitOf(dimension)} per day`;
  figure.append(caption, root);
  return figure;
}

function unitOf(dimension) {
  const found = products && products.dimensions.find((d) => d.name === dimension);
  return found ? ` (${found.unit})` : "";
}

async function loadUsage() {
  const today = new Date();
  const first = new Date(today.getTime() - 29 * 86400000);
  const iso = (d) => d.toISOString().slice(0, 10);
  const { usage } = await api("GET", `/v1/usage?from=${iso(first)}&to=${iso(today)}`);
  const days = [];
  for (let d = first; d <= today; d = new Date(d.getTime() + 86400000)) days.push(iso(d));
  const dimensions = [...new Set([...(products ? products.dimensions.map((d) => d.name) : []), ...usage.map((u) => u.dimension)])];
  const charts = $("usage-charts");
  charts.replaceChildren();
  for (const dimension of dimensions) {
    const perDay = days.map((date) =>
      usage.filter((u) => u.dimension === dimension && u.date === date).reduce((sum, u) => sum + Number(u.quantity), 0),
    );
    charts.append(chart(dimension, days, perDay));
  }
  const body = $("usage-table").tBodies[0];
  body.replaceChildren();
  for (const item of usage) {
    const row = body.insertRow();
    row.insertCell().textContent = item.date;
    row.insertCell().textContent = item.dimension;
    row.insertCell().textContent = String(item.quantity);
  }
  if (!usage.length) {
    const cell = body.insertRow().insertCell();
    cell.colSpan = 3;
    cell.textContent = "No usage in the last 30 days.";
  }
}

// -- subscription and launch --------------------------------------------------------------------------
const STATES = {
  active: "Active: subscribed and billed by usage.",
  pending: "Pending: AWS Marketplace has not confirmed the subscription yet.",
  "unsubscribe-pending": "Cancelling: the subscription is being cancelled.",
  grace: "Grace period: the subscription ended; stacks keep working until the grace end.",
  inactive: "Inactive: subscribe through AWS Marketplace to launch the stack.",
};

async function loadSubscription() {
  const sub = await api("GET", "/v1/subscription");
  const list = $("subscription-details");
  list.replaceChildren();
  const add = (term, value) => {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    list.append(dt, dd);
  };
  add("Status", STATES[sub.status] || sub.status);
  add("Grace ends", sub.grace_until || "not applicable");
  add("AWS account", sub.aws_account_id || "not linked");
}

async function loadLaunch() {
  const link = $("launch-link");
  try {
    const launch = await api("GET", "/v1/launch");
    link.href = launch.launch_url;
    link.hidden = false;
    $("launch-status").textContent = `Version ${launch.version} is published.`;
  } catch (error) {
    link.hidden = true;
    $("launch-status").textContent =
      error.status === 503 ? "No version is published yet: try again later." : error.message;
  }
}

// -- team -------------------------------------------------------------------------------------------
const MANAGERS = new Set(["owner", "admin"]);

async function loadTeam() {
  const team = await api("GET", "/v1/team");
  const manager = MANAGERS.has(team.role);
  $("team-summary").textContent = `Your role: ${team.role}. Keys, usage and the subscription belong to the team.`;
  const body = $("members-table").tBodies[0];
  body.replaceChildren();
  for (const member of team.members) {
    const row = body.insertRow();
    row.insertCell().textContent = member.email;
    row.insertCell().textContent = member.role;
    row.insertCell().textContent = day(member.joined_at);
    const actions = row.insertCell();
    if (manager && member.role !== "owner") {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "danger";
      button.textContent = "Remove";
      button.setAttribute("aria-label", `Remove ${member.email} from the team`);
      button.addEventListener("click", () => removeMember(member));
      actions.append(button);
    }
  }
  $("invite-form").hidden = !manager;
  const list = $("invitations-list");
  list.replaceChildren();
  for (const invitation of team.invitations) {
    const item = document.createElement("li");
    item.textContent = `${invitation.email} as ${invitation.role}, until ${day(invitation.expires_at)}`;
    list.append(item);
  }
  if (!team.invitations.length) {
    const item = document.createElement("li");
    item.textContent = "None.";
    list.append(item);
  }
}

async function onInvite(event) {
  event.preventDefault();
  const email = $("invite-email").value.trim();
  if (!email) return complain("Enter the email address to invite.");
  try {
    await api("POST", "/v1/team/invitations", { email, role: $("invite-role").value });
  } catch (error) {
    return complain(error.message);
  }
  $("invite-email").value = "";
  say(`Invitation emailed to ${email}.`);
  await loadTeam();
}

async function removeMember(member) {
  if (!window.confirm(`Remove ${member.email} from the team? They lose access at once.`)) return;
  try {
    await api("DELETE", `/v1/team/members/${encodeURIComponent(member.sub)}`);
    say(`${member.email} was removed from the team.`);
  } catch (error) {
    return complain(error.message);
  }
  await loadTeam();
}

async function acceptInvitation() {
  const id = sessionStorage.getItem(INVITATION);
  if (!id) return;
  sessionStorage.removeItem(INVITATION);
  try {
    const joined = await api("POST", `/v1/team/invitations/${encodeURIComponent(id)}/accept`);
    showView("team");
    say(`You joined the team as ${joined.role}.`);
  } catch (error) {
    showView("keys");
    complain(
      error.status === 404
        ? "This invitation is not for the account you signed in with, or it has expired."
        : error.message,
    );
  }
}

// -- start ------------------------------------------------------------------------------------------
async function start() {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    config = await response.json();
  } catch (_error) {
    return complain("This page is not configured (config.json is missing).");
  }
  $("signup-form").addEventListener("submit", onSignUp);
  $("confirm-form").addEventListener("submit", onConfirm);
  $("resend-code").addEventListener("click", onResend);
  $("signin-form").addEventListener("submit", onSignIn);
  $("sign-out").addEventListener("click", onSignOut);
  $("key-form").addEventListener("submit", onCreateKey);
  $("invite-form").addEventListener("submit", onInvite);
  $("copy-secret").addEventListener("click", onCopySecret);
  $("hide-secret").addEventListener("click", () => {
    clearSecret();
    say("The secret key is no longer shown.");
  });
  window.addEventListener("hashchange", () => {
    quiet();
    route();
  });
  try {
    const response = await fetch(config.api_url.replace(/\/$/, "") + "/v1/product");
    products = await response.json();
    $("product-name").textContent = `${products.product}: developer page`;
  } catch (_error) {
    products = null;
  }
  route();
}

start();
