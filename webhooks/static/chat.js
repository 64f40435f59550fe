// The web chat: sends what the member types or taps to /api/webchat/messages and shows the replies.
// No framework, no build step: it must run on old Android browsers over 2G.
(function () {
  "use strict";
  var messages = document.getElementById("messages");
  var menu = document.getElementById("menu");
  var input = document.getElementById("input");
  var send = document.getElementById("send");
  var offline = document.getElementById("offline");
  var typing = document.getElementById("typing");
  var page = document.body.dataset;  // texts in the page's language: failedText, tooLargeText
  var queue = [];
  var busy = false;
  var transcript = load("chibo.history", []);

  function load(key, fallback) {
    try { var v = JSON.parse(localStorage.getItem(key)); return v === null ? fallback : v; }
    catch (e) { return fallback; }
  }
  function save(key, value) { try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* full */ } }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function bubble(kind, text, remember) {
    var hint = document.getElementById("welcome");
    if (hint) hint.remove();
    var el = document.createElement("div");
    el.className = "bubble " + kind;
    if (kind !== "system") el.setAttribute("data-testid", kind + "-message");
    el.textContent = text;
    messages.appendChild(el);
    if (remember) { transcript.push([kind, text]); transcript = transcript.slice(-100); save("chibo.history", transcript); }
    messages.scrollTop = messages.scrollHeight;
    return el;
  }

  function buttonRows(container, rows, testid) {
    rows.forEach(function (row) {
      var line = document.createElement("div");
      line.className = "row";
      row.forEach(function (b) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = b.label;
        button.setAttribute("data-testid", testid);
        button.addEventListener("click", function () { submit({ payload: b.payload }, b.label); });
        line.appendChild(button);
      });
      container.appendChild(line);
    });
  }

  function showMenu(rows) {
    menu.textContent = "";
    buttonRows(menu, rows, "menu-button");
    save("chibo.menu", rows);
  }

  function showReply(reply) {
    if (reply.image) {
      var picture = document.createElement("img");
      picture.className = "chart";
      picture.src = reply.image;
      picture.alt = "";
      picture.setAttribute("data-testid", "chart");
      messages.appendChild(picture);
    }
    bubble("bot", reply.text, true);
    if (reply.document) messages.appendChild(documentLink(reply.document));
    if ((reply.buttons && reply.buttons.length) || reply.upload_label) {
      var box = document.createElement("div");
      box.className = "inline";
      buttonRows(box, reply.buttons || [], "inline-button");
      if (reply.upload_label) box.appendChild(uploadButton(reply.upload_label));
      messages.appendChild(box);
      messages.scrollTop = messages.scrollHeight;
    }
    if (reply.menu !== null && reply.menu !== undefined) showMenu(reply.menu);
  }

  // A notice's document: fetched with the session token, then saved by the browser.
  function documentLink(doc) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "document";
    button.textContent = "📎 " + doc.name;
    button.setAttribute("data-testid", "document");
    button.addEventListener("click", function () {
      if (doc.url.indexOf("data:") === 0) {  // an export carried in the reply itself
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

  // A file picker for the replies that ask for a file (the register, a notice's document).
  function uploadButton(label) {
    var line = document.createElement("div");
    line.className = "row";
    var picker = document.createElement("input");
    picker.type = "file";
    picker.accept = ".xlsx,.csv";
    picker.hidden = true;
    picker.setAttribute("data-testid", "file-input");
    picker.addEventListener("change", function () {
      var file = picker.files && picker.files[0];
      if (!file) return;
      bubble("user", "📎 " + file.name, true);
      queue.push({ id: newId(), file: file });
      pump();
    });
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.setAttribute("data-testid", "upload-button");
    button.addEventListener("click", function () { picker.click(); });
    line.appendChild(button);
    line.appendChild(picker);
    return line;
  }

  // The server issues the session token (a made-up one is refused with 401: ask for a new one).
  function session() {
    var token = localStorage.getItem("chibo.token");
    if (token) return Promise.resolve(token);
    return fetch("/api/webchat/session", { method: "POST" }).then(function (r) {
      if (!r.ok) throw new Error("session " + r.status);
      return r.json();
    }).then(function (body) { localStorage.setItem("chibo.token", body.token); return body.token; });
  }

  function post(body, renewed) {
    return session().then(function (token) {
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
        body: JSON.stringify(body)
      });
    }).then(function (r) {
      if (r.status === 401 && !renewed) { localStorage.removeItem("chibo.token"); return post(body, true); }
      return r;
    });
  }

  function wait(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  // Sends one message. While the phone is offline it sends the same body (same id) again until it
  // is back, so the server answers it once and nothing typed is lost; a server error (5xx) is
  // retried with backoff MAX_ATTEMPTS times, then the member is told and the chat moves on.
  var MAX_ATTEMPTS = 6;
  function deliver(body, delay, attempt) {
    return post(body, false).then(function (r) {
      offline.hidden = true;
      if (r.status >= 500) {
        if (attempt >= MAX_ATTEMPTS) { bubble("system", page.failedText, false); return; }
        return wait(delay).then(function () { return deliver(body, Math.min(delay * 2, 15000), attempt + 1); });
      }
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (r.ok) {
          if (data.token) localStorage.setItem("chibo.token", data.token);  // re-issued on joining
          (data.replies || []).forEach(showReply);
          return;
        }
        if (r.status === 413) { bubble("system", page.tooLargeText, false); return; }
        var detail = typeof data.detail === "string" ? data.detail : (data.detail && data.detail[0] && data.detail[0].msg);
        bubble("system", detail || page.failedText, false);
      });
    }, function () {
      offline.hidden = false;
      return wait(delay).then(function () { return deliver(body, Math.min(delay * 2, 15000), attempt); });
    });
  }

  function pump() {
    if (busy || !queue.length) return;
    busy = true;
    send.disabled = true;
    typing.hidden = false;
    deliver(queue.shift(), 1000, 1).then(function () {
      busy = false;
      send.disabled = false;
      typing.hidden = true;
      pump();
    });
  }

  function submit(fields, shown) {
    bubble("user", shown, true);
    var body = { id: newId() };
    if (fields.text !== undefined) body.text = fields.text; else body.payload = fields.payload;
    queue.push(body);
    pump();
  }

  document.getElementById("composer").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    submit({ text: text }, text);
  });

  transcript.forEach(function (item) { bubble(item[0], item[1], false); });
  showMenu(load("chibo.menu", []));
  // A printed QR code opens /?invite=CODE: send the code once, then drop it from the address.
  var invite = new URLSearchParams(location.search).get("invite");
  if (invite) {
    if (window.history.replaceState) window.history.replaceState(null, "", location.pathname);
    submit({ text: invite.slice(0, 64) }, invite.slice(0, 64));
  }
})();
