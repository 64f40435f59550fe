// The web chat page. No framework, no build: old Android browsers over 2G.
(function () {
  "use strict";
  function byId(id) { return document.getElementById(id); }
  function heldToken() { return localStorage.getItem("chibo.token"); }
  function make(tag, className, testid) {
    var el = document.createElement(tag);
    el.className = className;
    if (testid) el.setAttribute("data-testid", testid);
    return el;
  }
  var messages = byId("messages"), menu = byId("menu"), menuToggle = byId("menu-toggle"), input = byId("input");
  var send = byId("send"), newline = byId("newline"), offline = byId("offline"), typing = byId("typing");
  var page = document.body.dataset;
  // Unanswered: kept, sent again under its id.
  var queue = [].concat(load("chibo.pending", [], sessionStorage)).filter(function (m) {
    return m && typeof m.id == "string" && (typeof m.text == "string" || typeof m.payload == "string");
  });
  var busy = false;
  var transcript = load("chibo.history", []);
  var cursor = load("chibo.cursor", 0);
  var shownIds = {}, restored = null, unread = 0, listening = null, stopListening = null, anchor = null;
  var welcome = byId("welcome");
  var freshHint = input.placeholder;

  function load(key, fallback, store) {
    try { var v = JSON.parse((store || localStorage).getItem(key)); return v === null ? fallback : v; }
    catch (e) { return fallback; }
  }
  function save(key, value, store) {
    try { (store || localStorage).setItem(key, JSON.stringify(value)); } catch (e) { /* full */ }
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // The newest message in view.
  function reveal() {
    if (!anchor) return;
    var top = anchor.offsetTop - 8;
    messages.scrollTop = Math.min(top, messages.scrollHeight);
  }
  addEventListener("resize", reveal);
  if (window.ResizeObserver) new ResizeObserver(reveal).observe(messages);

  function bubble(kind, text, id) {
    if (welcome) welcome.remove();
    var el = make("div", "bubble " + kind, kind !== "system" && kind + "-message");
    el.textContent = text;
    if (id) el.setAttribute("data-message-id", String(id));
    messages.appendChild(el);
    if (id !== false) { transcript.push([kind, text, id || null]); transcript = transcript.slice(-100); save("chibo.history", transcript); }
    anchor = el;
    reveal();
    return el;
  }

  function setBusy(on) {
    busy = on;
    typing.hidden = !on;
    // No second tap while one waits.
    Array.prototype.forEach.call(document.querySelectorAll(".row button, .menu button"), function (b) { b.disabled = on; });
  }

  function buttonRows(container, rows, testid, source) {
    rows.forEach(function (row) {
      var line = make("div", "row");
      row.forEach(function (b) {
        var button = make("button", "", testid);
        button.type = "button";
        button.textContent = b.label;
        button.disabled = busy;
        button.addEventListener("click", function () {
          var menuTap = testid === "menu-button";
          if (menuTap) { save("chibo.menuUsed", true); foldMenu(true); } else anchor = null;  // stays put
          // As Telegram: no echo of an inline tap; a secret one not kept.
          submit({ payload: b.payload, source: source }, b.secret ? null : menuTap && b.label);
        });
        line.appendChild(button);
      });
      container.appendChild(line);
    });
  }

  function foldMenu(folded) {
    menu.hidden = folded;
    menuToggle.setAttribute("aria-expanded", String(!folded));
    reveal();
  }
  menuToggle.addEventListener("click", function () { foldMenu(!menu.hidden); });

  function showMenu(rows) {
    menu.textContent = "";
    buttonRows(menu, rows, "menu-button");
    menuToggle.hidden = !rows.length;
    save("chibo.menu", rows);
  }

  function extras(reply) {
    if (reply.document) messages.appendChild(documentLink(reply.document));
    if ((reply.buttons && reply.buttons.length) || reply.upload_label) {
      var box = make("div", "inline");
      buttonRows(box, reply.buttons || [], "inline-button", reply.id);
      if (reply.upload_label) box.appendChild(uploadButton(reply.upload_label, reply.upload_accept));
      messages.appendChild(box);
      foldMenu(true);
    }
    reveal();
  }

  function showReply(reply, fresh) {
    if (reply.id) {
      if (shownIds[reply.id]) return;
      shownIds[reply.id] = true;
    }
    var old = reply.replaces && messages.querySelector('[data-message-id="' + reply.replaces + '"]');
    var top = messages.scrollTop, chart = null, same = old && old.textContent == reply.text;
    transcript = transcript.filter(function (t) { return t[2] !== reply.replaces; });
    if (reply.image) {
      chart = make("img", "chart", "chart");
      chart.src = reply.image;
      chart.alt = "";
      chart.addEventListener("load", reveal);
      messages.appendChild(chart);
    }
    var el = bubble("bot", reply.text, reply.id);
    if (chart) anchor = chart;
    if (fresh) {
      el.className += " unread";
      el.setAttribute("data-new", page.unreadLabel || "");
      unread += 1;
      showUnread();
    }
    if (reply.menu !== null && reply.menu !== undefined) showMenu(reply.menu);
    if (fresh) foldMenu(true);
    extras(reply);
    // An edit: in its place, the page still.
    if (old) {
      for (var n = chart || el, next; n; n = next) { next = n.nextSibling; messages.insertBefore(n, old); }
      if (/inline/.test((old.nextSibling || old).className)) old.nextSibling.remove();
      old.remove();
      anchor = null;
      messages.scrollTop = top;
      // Its words changed (sent, refused): in view.
      if (!same) el.scrollIntoView({ block: "nearest" });
    }
  }

  function showUnread() {
    var title = document.title.replace(/^\(\d+\) /, "");
    document.title = unread ? "(" + unread + ") " + title : title;
  }
  function seen() {
    if (!unread || document.hidden) return;
    Array.prototype.forEach.call(messages.querySelectorAll(".unread"), function (el) { el.classList.remove("unread"); });
    unread = 0;
    showUnread();
  }
  ["pointerdown", "keydown", "touchstart", "wheel"].forEach(function (name) { document.addEventListener(name, seen, true); });

  function documentLink(doc) {
    var button = make("button", "document", "document");
    button.type = "button";
    button.textContent = "📎 " + doc.name;
    button.addEventListener("click", function () {
      if (doc.url.indexOf("data:") === 0) {
        var direct = document.createElement("a");
        direct.href = doc.url;
        direct.download = doc.name;
        direct.click();
        return;
      }
      session().then(function (token) {
        return fetch(doc.url, { headers: { "Authorization": "Bearer " + token } });
      }).then(function (r) {
        if (!r.ok) throw new Error("file " + r.status);
        return r.blob();
      }).then(function (blob) {
        var link = document.createElement("a");
        link.href = URL.createObjectURL(blob);
        link.download = doc.name;
        link.click();
        setTimeout(function () { URL.revokeObjectURL(link.href); }, 60000);
      }).catch(function () { offline.hidden = false; });
    });
    return button;
  }

  function uploadButton(label, accept) {
    var line = make("div", "row");
    var picker = make("input", "", "file-input");
    picker.type = "file";
    if (accept) picker.accept = accept;
    picker.hidden = true;
    picker.addEventListener("change", function () {
      var file = picker.files && picker.files[0];
      if (!file) return;
      bubble("user", "📎 " + file.name, false);
      queue.push({ id: newId(), file: file, as: heldToken() });
      keepPending();
      pump();
    });
    var button = make("button", "", "upload-button");
    button.type = "button";
    button.textContent = label;
    button.disabled = busy;
    button.addEventListener("click", function () { picker.click(); });
    line.appendChild(button);
    line.appendChild(picker);
    return line;
  }

  // The server issues the token (401: ask again).
  function session() {
    var token = heldToken();
    if (token) return Promise.resolve(token);
    return fetch("/api/webchat/session", { method: "POST" }).then(function (r) {
      // 429: say why, wait.
      if (r.status === 429) return r.json().then(function (d) { throw { why: d.detail, after: +r.headers.get("Retry-After") }; });
      if (!r.ok) throw new Error("session " + r.status);
      return r.json();
    }).then(function (body) { localStorage.setItem("chibo.token", body.token); listen(); return body.token; });
  }

  function post(body, renewed) {
    return session().then(function (token) {
      // Sent only as the member it was typed as.
      body.as = body.as || token;
      keepPending();
      if (body.as !== token) return { stale: 1 };
      if (body.file) {
        var query = "?id=" + encodeURIComponent(body.id) + "&name=" + encodeURIComponent(body.file.name);
        return fetch("/api/webchat/upload" + query, {
          method: "POST",
          headers: { "Content-Type": "application/octet-stream", "Authorization": "Bearer " + token },
          body: body.file
        });
      }
      return fetch("/api/webchat/messages", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token },
        body: JSON.stringify({ id: body.id, text: body.text, payload: body.payload, source: body.source })
      });
    }).then(function (r) {
      if (r.status !== 401 || renewed) return r;
      if (heldToken() !== body.as) return { stale: 1 };
      var old = body.as;
      localStorage.removeItem("chibo.token");
      queue.forEach(function (m) { if (m.as === old) m.as = null; });
      return post(body, true);
    });
  }

  function wait(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  // Another member's code: nothing before stays; the menu opens.
  function startAfresh() {
    transcript = [];
    cursor = 0;
    save("chibo.history", transcript);
    save("chibo.cursor", cursor);
    save("chibo.menuUsed", false);
    foldMenu(false);
    shownIds = {};  // SQLite may number anew
    messages.textContent = "";
    if (welcome) messages.appendChild(welcome);
  }

  // Ended: a fresh page. The token stays for a lost join.
  function ended() {
    startAfresh();
    showMenu([]);
    localStorage.removeItem("chibo.words");
    hint(freshHint);
  }
  function hint(text) {
    input.placeholder = text;
    input.setAttribute("aria-label", text);
    grow();
  }

  // Offline: sent again until back; a 5xx MAX_ATTEMPTS times.
  var MAX_ATTEMPTS = 6;
  function deliver(body, delay, attempt) {
    return post(body, false).then(function (r) {
      offline.hidden = true;
      if (r.stale) return bubble("system", page.failedText, false);
      if (r.status >= 500) {
        if (attempt >= MAX_ATTEMPTS) { bubble("system", page.failedText, false); return; }
        return wait(delay).then(function () { return deliver(body, Math.min(delay * 2, 15000), attempt + 1); });
      }
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (r.ok) {
          if (data.switched) startAfresh();
          if (data.token) {  // joined
            queue.forEach(function (m) { if (m.as === body.as) m.as = data.token; });
            keepPending();
            localStorage.setItem("chibo.token", data.token);
            listen();
            refresh(false);
          }
          (data.replies || []).forEach(function (reply) { showReply(reply, false); });
          // A join or a new language: the page's words follow.
          if ((data.replies || []).some(function (reply) { return reply.menu; }) && !data.token) refresh(false);
          return;
        }
        if (r.status === 413) { bubble("system", page.tooLargeText, false); return; }
        var detail = typeof data.detail === "string" ? data.detail : (data.detail && data.detail[0] && data.detail[0].msg);
        bubble("system", detail || page.failedText, false);
      });
    }, function (error) {
      if (error.why) { bubble("system", error.why, false); delay = error.after * 1e3 || 6e4; } else offline.hidden = false;
      return wait(delay).then(function () { return deliver(body, Math.min(delay * 2, 15000), attempt); });
    });
  }

  // A file, or a secret ballot's tap, is never stored.
  function keepPending() {
    save("chibo.pending", queue.filter(function (m) { return !m.file && !m.secret; }), sessionStorage);
  }

  function pump() {
    if (busy || !queue.length) return;
    setBusy(true);
    deliver(queue[0], 1000, 1).then(function () {
      queue.shift();
      keepPending();
      setBusy(false);
      pump();
    });
  }

  function submit(fields, shown) {
    if (shown) bubble("user", shown);
    var body = { id: newId(), as: heldToken(), secret: shown === null };
    for (var k in fields) body[k] = fields[k];
    queue.push(body);
    keepPending();
    pump();
  }

  // no-store: Chromium held a 2nd request 20 s
  function inbox(token, query, signal) {
    return fetch("/api/webchat/inbox?after=" + cursor + query,
      { headers: { "Authorization": "Bearer " + token }, cache: "no-store", signal: signal });
  }

  function received(list) {
    list.forEach(function (message) {
      showReply(message, true);
      cursor = Math.max(cursor, message.id);
    });
    save("chibo.cursor", cursor);
  }

  function listen() {
    var token = heldToken();
    if (!token || listening === token) return;
    listening = token;
    if (stopListening) stopListening.abort();
    stopListening = typeof AbortController === "function" ? new AbortController() : null;
    var signal = stopListening ? stopListening.signal : undefined;
    var delay = 1000;
    (function next() {
      if (listening !== token) return;
      inbox(token, "&wait=1", signal).then(function (r) {
        if (listening !== token) return;
        if (r.status === 401) {
          listening = null;
          if (heldToken() !== token) listen();
          else if (!(busy && queue[0].as === token)) ended();
          return;
        }
        if (!r.ok) throw new Error("inbox " + r.status);
        return r.json().then(function (data) {
          delay = 1000;
          offline.hidden = true;
          received(data.messages || []);
          next();
        });
      }).catch(function (error) {
        if (listening !== token || signal && signal.aborted) return;
        if (error instanceof TypeError) offline.hidden = false;
        wait(delay).then(next);
        delay = Math.min(delay * 2, 30000);
      });
    })();
  }

  function applyWords(words) {
    save("chibo.words", words);
    document.documentElement.lang = words.lang;
    byId("title").textContent = words.title;
    document.title = words.title;
    showUnread();
    hint(words.input_placeholder);
    send.textContent = words.send_label;
    newline.setAttribute("aria-label", words.newline_label);
    newline.title = words.newline_label;
    byId("menu-label").textContent = words.menu_label;
    offline.textContent = words.offline_text;
    page.failedText = words.failed_text;
    page.tooLargeText = words.too_large_text;
    page.unreadLabel = words.unread_label;
  }

  function refresh(reloaded) {
    var token = heldToken();
    if (!token) return;
    inbox(token, "").then(function (r) {
      if (!r.ok) return;
      return r.json().then(function (data) {
        applyWords(data.words);
        var last = data.last;
        // Once: shown live meanwhile, it has them.
        if (reloaded && last && restored === last.id) {
          if (last.menu) showMenu(last.menu);
          extras(last);
        } else if (reloaded && last && !shownIds[last.id]) {  // another tab's
          showReply(last, false);
        }
        received(data.messages || []);
      });
    }).catch(function () { offline.hidden = false; /* refetched */ });
  }

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      sendTyped();
    }
  });
  // Fits text or hint (a hidden copy measures).
  var gauge = make("textarea", "gauge");
  gauge.rows = 1;
  gauge.setAttribute("aria-hidden", "true");
  input.parentNode.appendChild(gauge);
  function grow() {
    gauge.style.width = input.offsetWidth + "px";
    gauge.value = input.value || input.placeholder;
    input.style.height = Math.min(gauge.scrollHeight + 4, 160) + "px";
  }
  input.addEventListener("input", grow);
  addEventListener("resize", grow);
  newline.addEventListener("click", function () {
    var at = input.selectionStart, end = input.selectionEnd;
    input.value = input.value.slice(0, at) + "\n" + input.value.slice(end);
    input.selectionStart = input.selectionEnd = at + 1;
    input.focus();
    grow();
  });

  function sendTyped() {
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    grow();
    submit({ text: text }, text);
  }
  byId("composer").addEventListener("submit", function (event) {
    event.preventDefault();
    sendTyped();
  });

  var words = load("chibo.words", null);
  if (words) applyWords(words);
  grow();
  transcript.forEach(function (item) {
    restored = item[2];
    var el = bubble(item[0], item[1], false);  // kept already: not written again
    if (item[2]) { shownIds[item[2]] = true; el.setAttribute("data-message-id", item[2]); }
  });
  showMenu(load("chibo.menu", []));
  foldMenu(load("chibo.menuUsed", false));
  // A QR code opens /?invite=CODE.
  var invite = new URLSearchParams(location.search).get("invite");
  if (invite) {
    history.replaceState(null, "", location.pathname);
    submit({ text: invite.slice(0, 64) }, invite.slice(0, 64));
  }
  addEventListener("offline", function () { offline.hidden = false; });
  addEventListener("online", function () { offline.hidden = true; refresh(false); });
  if (!navigator.onLine) offline.hidden = false;
  refresh(true);
  listen();
  pump();
  // Another tab joined or switched: start again as it.
  addEventListener("storage", function (e) { if (e.key === "chibo.token" && e.newValue) location.reload(); });
})();
