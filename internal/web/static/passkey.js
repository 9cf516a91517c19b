// Passkeys on Latchkey's sign-in and account pages (internal/web/passkey.go).
// The server puts the WebAuthn options in a form's data-options and a signed,
// single-use state in its "state" field; this script asks the browser for the
// credential, puts the answer (JSON, binary fields base64url) in the form's
// "credential" field and submits the form. Nothing else: no fetch, no inline
// script, nothing loaded from elsewhere.
"use strict";
(function () {
  function fromB64u(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function toB64u(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function descriptors(list) {
    return (list || []).map(function (c) {
      return { type: c.type, id: fromB64u(c.id), transports: c.transports };
    });
  }
  // options turns the server's JSON (go-webauthn's CredentialCreation or
  // CredentialAssertion) into what navigator.credentials takes.
  function options(form) {
    var pk = JSON.parse(form.dataset.options).publicKey;
    pk.challenge = fromB64u(pk.challenge);
    if (pk.user) pk.user.id = fromB64u(pk.user.id);
    if (pk.excludeCredentials) pk.excludeCredentials = descriptors(pk.excludeCredentials);
    if (pk.allowCredentials) pk.allowCredentials = descriptors(pk.allowCredentials);
    return pk;
  }
  function answer(cred) {
    var r = cred.response, out = {
      id: cred.id, rawId: toB64u(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toB64u(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toB64u(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toB64u(r.authenticatorData);
      out.response.signature = toB64u(r.signature);
      if (r.userHandle) out.response.userHandle = toB64u(r.userHandle);
    }
    return JSON.stringify(out);
  }
  function say(form, text) {
    var p = form.querySelector(".passkey-error");
    if (p) { p.textContent = text; p.hidden = false; }
  }
  function send(form, cred) {
    form.elements.credential.value = answer(cred);
    form.submit();
  }

  if (!window.PublicKeyCredential || !navigator.credentials) return;

  // Sign-in: the button, and the email field's autofill (conditional UI).
  var login = document.getElementById("passkey-login");
  if (login) {
    var button = login.querySelector("button");
    button.hidden = false;
    var pending = null, controller = null;
    var conditional = function () {
      if (!PublicKeyCredential.isConditionalMediationAvailable) return;
      PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
        if (!ok) return;
        controller = new AbortController();
        pending = navigator.credentials.get({ mediation: "conditional", publicKey: options(login), signal: controller.signal });
        pending.then(function (cred) { if (cred) send(login, cred); }, function () {});
      });
    };
    button.addEventListener("click", function () {
      var wait = Promise.resolve();
      if (pending) { controller.abort(); wait = pending.catch(function () {}); pending = null; }
      wait.then(function () {
        return navigator.credentials.get({ publicKey: options(login) });
      }).then(function (cred) {
        if (cred) send(login, cred);
      }, function () {
        say(login, login.dataset.failed || "No passkey was used. Try again, or sign in with your password.");
        conditional();
      });
    });
    conditional();
  }

  // The account page: a new passkey, named in the form.
  var add = document.getElementById("passkey-add");
  if (add) {
    add.addEventListener("submit", function (e) {
      if (add.elements.credential.value) return;
      e.preventDefault();
      if (!add.reportValidity()) return;
      navigator.credentials.create({ publicKey: options(add) }).then(function (cred) {
        send(add, cred);
      }, function () {
        say(add, add.dataset.failed || "No passkey was created. Try again.");
      });
    });
  }
})();
