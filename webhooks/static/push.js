// The service worker and, once joined, the notifications button.
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) return;
  function link(rel, href) {
    var l = document.createElement("link");
    l.rel = rel; l.href = href; document.head.appendChild(l);
  }
  link("apple-touch-icon", "/static/icon-192.png");
  navigator.serviceWorker.register("/sw.js").catch(function () { /* no offline page */ });

  var bar = null, linked = false, checking = false, words = {}, publicKey = "";
  // Not on a stranger's first visit.
  var styled = !!token();
  if (styled) link("stylesheet", "/static/push.css");
  var apple = /iPhone|iPad|iPod/.test(navigator.userAgent);
  var standalone = window.matchMedia("(display-mode: standalone)").matches || navigator.standalone === true;
  var canPush = "PushManager" in window && "Notification" in window;

  function token() { return localStorage.getItem("chibo.token"); }
  function api(method, body) {
    var headers = { "Authorization": "Bearer " + token() };
    if (body) headers["Content-Type"] = "application/json";
    return fetch("/api/webchat/push", { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined });
  }
  function keyBytes(b64) {
    var raw = atob((b64 + "===".slice((b64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/"));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }
  // A new server key: offer it again.
  function sameKey(sub) {
    var key = sub.options && sub.options.applicationServerKey;
    if (!key) return true;
    var bytes = new Uint8Array(key), wanted = keyBytes(publicKey);
    return bytes.length === wanted.length && bytes.every(function (b, i) { return b === wanted[i]; });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }
  function show(parts) {
    if (!bar) {
      if (!styled) link("stylesheet", "/static/push.css");
      bar = el("div", "push-bar");
      bar.setAttribute("data-testid", "push-bar");
      var top = document.querySelector("header");
      top.parentNode.insertBefore(bar, top.nextSibling);
    }
    bar.textContent = "";
    parts.forEach(function (p) { bar.appendChild(p); });
  }
  function button(label, cls, action) {
    var b = el("button", cls, label);
    b.type = "button";
    b.setAttribute("data-testid", cls);
    b.addEventListener("click", function () { b.disabled = true; action().then(render, function () {}); });
    return b;
  }
  function note(text) { return el("p", "push-note", text); }

  function subscription() {
    return navigator.serviceWorker.ready.then(function (reg) { return reg.pushManager.getSubscription(); });
  }
  function turnOn() {
    return Promise.resolve(Notification.requestPermission()).then(function (permission) {
      if (permission !== "granted") return null;
      return navigator.serviceWorker.ready.then(function (reg) {
        return reg.pushManager.getSubscription().then(function (old) {
          return old ? old.unsubscribe() : true;  // maybe another key's
        }).then(function () {
          // A push service that never answers: say so.
          var late = new Promise(function (_, fail) { setTimeout(fail, 30000); });
          return Promise.race([late, reg.pushManager.subscribe({
            userVisibleOnly: true, applicationServerKey: keyBytes(publicKey)
          })]);
        });
      }).then(function (sub) {
        return api("POST", sub.toJSON()).then(function (r) { if (!r.ok) throw new Error("refused"); });
      });
    }).catch(function () {
      show([button(words.turn_on, "push-on-button", turnOn), note(words.failed)]);
      throw new Error("failed");
    });
  }
  function turnOff() {
    return subscription().then(function (sub) { return sub ? sub.unsubscribe() : true; })
      .then(function () { return api("DELETE"); });
  }

  function render() {
    if (checking || !token()) return Promise.resolve();
    checking = true;
    return api("GET").then(function (r) { return r.ok ? r.json() : null; }).then(function (state) {
      checking = false;
      if (!state || !state.linked) return;
      linked = true; words = state.words; publicKey = state.public_key;
      if (!canPush) { show([note(apple && !standalone ? words.iphone : words.where)]); return; }
      if (Notification.permission === "denied") { show([note(words.blocked)]); return; }
      return subscription().then(function (sub) {
        if (sub && state.subscribed && Notification.permission === "granted" && sameKey(sub)) {
          show([el("p", "push-on", words.on), button(words.turn_off, "push-off", turnOff)]);
        } else {
          show([button(words.turn_on, "push-on-button", turnOn), note(words.where)]);
        }
      });
    }, function () { checking = false; });
  }

  // A new language: the bar's words follow.
  new MutationObserver(function () { if (linked) render(); })
    .observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });

  // A notification opens the chat at "#message-<id>".
  function showMessage() {
    var m = /^#message-(\d+)$/.exec(location.hash);
    if (!m) return;
    var target = document.querySelector('[data-message-id="' + m[1] + '"]');
    if (target) target.scrollIntoView({ block: "center" });
  }
  window.addEventListener("hashchange", showMessage);
  navigator.serviceWorker.addEventListener("message", function (event) {
    if (event.data && event.data.type === "open" && typeof event.data.url === "string") {
      location.hash = event.data.url.replace(/^[^#]*/, "");
    }
  });

  // Look again until joined.
  var pending = null;
  new MutationObserver(function () {
    showMessage();
    if (linked || pending) return;
    pending = setTimeout(function () { pending = null; render(); }, 500);
  }).observe(document.body, { childList: true, subtree: true });
  render();
  showMessage();
})();
