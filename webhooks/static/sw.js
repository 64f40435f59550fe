// chibo's service worker: the page shell kept for when there is no signal (the chat with its last
// messages, or the offline page), and Web Push notifications that open the chat at their message.
"use strict";
var CACHE = "chibo-shell-1";
var SHELL = ["/", "/offline.html", "/static/chat.css", "/static/chat.js", "/static/push.js", "/static/push.css",
  "/static/icon-192.png"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n !== CACHE; }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

// Network first, so a member online always gets the newest page; the copy kept is the fallback.
function fresh(request, key) {
  return fetch(request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(key, copy); });
    }
    return response;
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.indexOf("/api/") === 0) return;
  if (request.mode === "navigate") {
    var home = url.pathname === "/";
    event.respondWith((home ? fresh(request, "/") : fetch(request)).catch(function () {
      return caches.match(home ? "/" : "/offline.html").then(function (kept) {
        return kept || caches.match("/offline.html");
      });
    }));
  } else if (SHELL.indexOf(url.pathname) >= 0) {
    event.respondWith(fresh(request, url.pathname).catch(function () { return caches.match(url.pathname); }));
  }
});

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { body: event.data.text() }; }
  event.waitUntil(self.registration.showNotification(data.title || "chibo", {
    body: data.body || "",
    tag: data.tag,
    icon: "/static/icon-192.png",
    badge: "/static/icon-192.png",
    data: { url: data.url || "/" }
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (open) {
    for (var i = 0; i < open.length; i++) {
      if (new URL(open[i].url).origin === self.location.origin) {
        open[i].postMessage({ type: "open", url: url });
        return open[i].focus();
      }
    }
    return self.clients.openWindow(url);
  }));
});
