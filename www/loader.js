/* LiveChat loader, inlined in the snippet so that it does not depend on any one deployment. Once
   the page has finished loading (so the chat never delays it) it shows the chat button, drawn
   here in plain DOM, and nothing else: the WebAssembly widget is imported on the first click, or
   at once for a returning visitor (a conversation or unsent messages in localStorage, which must
   go out and hear replies). It comes from the first deployment in window.LiveChat.deployments that
   answers within a few seconds, trying the others in turn. The widget adopts this button and
   renders inside the same shadow root, keeping the visitor's session and outbox in this page's
   localStorage, so it is the same whichever deployment served its files. Before drawing the
   button it asks for the site's look (/v1/sites/ID/widget-config, from the deployments in turn,
   briefly): what the snippet does not set itself comes from there. It also defines the page's
   API, window.livechat(method, ...): until the widget runs, calls wait in a queue (livechat.q)
   that the widget runs in order; a call that needs the widget (open, toggle, sendMessage) loads
   it, and hide/show apply to this button at once. */
(function () {
  "use strict";
  var w = window, d = document, settings = w.LiveChat;
  if (!settings || !settings.deployments || !settings.deployments.length || w.__liveChatLoader) return;
  w.__liveChatLoader = true;
  var started = false, retry = null, configured = false, wanted = false, hiddenByPage = false, launcher = null;
  var queue = (w.livechat && w.livechat.q) || [];
  function note(method) {
    if (method === "open" || method === "toggle" || method === "sendMessage") wanted = true;
    if (method === "hide" || method === "show") hiddenByPage = method === "hide";
    if (launcher) launcher.style.display = hiddenByPage ? "none" : "";
  }
  for (var i = 0; i < queue.length; i++) note(queue[i][0]);
  var api = w.livechat = function () {
    queue.push(arguments);
    note(arguments[0]);
    if (wanted && configured) load();
  };
  api.q = queue;

  function within(ms, promise) {
    // A frozen deployment accepts the connection and never answers: give up on it in time.
    return Promise.race([promise, new Promise(function (_, reject) {
      setTimeout(function () { reject(new Error("no answer within " + ms + " ms")); }, ms);
    })]);
  }

  // The widget's code that ran last, kept in this page's Cache Storage (versioned: both parts,
  // then the pointer naming them), so a returning visitor whom no deployment answers still gets
  // their conversation and outbox. Every load from a deployment replaces it.
  var CACHE = "livechat-widget", KEY = "/livechat-widget/", cacheTried = false;
  function keep(jsUrl, wasm) {
    if (!w.caches) return;
    var version = String(Date.now());
    Promise.all([caches.open(CACHE), fetch(jsUrl).then(function (r) { return r.text(); })])
      .then(function (both) {
        var cache = both[0];
        return Promise.all([
          cache.put(KEY + "js/" + version, new Response(both[1], { headers: { "content-type": "text/javascript" } })),
          cache.put(KEY + "wasm/" + version, wasm)
        ]).then(function () {
          return cache.put(KEY + "current", new Response(version));
        }).then(function () {
          return cache.keys();
        }).then(function (keys) {
          keys.forEach(function (k) { if (/\/(js|wasm)\/\d+$/.test(k.url) && k.url.slice(-version.length) !== version) cache.delete(k); });
        });
      })
      .catch(function () {});
  }
  function fromCache() {
    if (!w.caches) return Promise.reject(new Error("no Cache Storage"));
    return caches.open(CACHE).then(function (cache) {
      return cache.match(KEY + "current").then(function (pointer) {
        if (!pointer) throw new Error("no widget kept");
        return pointer.text();
      }).then(function (version) {
        return Promise.all([cache.match(KEY + "js/" + version), cache.match(KEY + "wasm/" + version)]);
      });
    }).then(function (parts) {
      if (!parts[0] || !parts[1]) throw new Error("no widget kept");
      return parts[0].text().then(function (code) {
        return import(URL.createObjectURL(new Blob([code], { type: "text/javascript" })));
      }).then(function (widget) {
        return widget.default({ module_or_path: parts[1] });
      });
    });
  }

  function attempt(index, round) {
    retry = null;
    if (index >= settings.deployments.length) {
      // Every deployment failed: a returning visitor gets the widget kept from last time (it
      // connects by itself once a deployment is back). Otherwise try again later, more and more
      // patiently, up to once a minute.
      var later = function () {
        retry = setTimeout(function () { attempt(0, round + 1); }, Math.min(60000, 2000 * Math.pow(2, round)));
      };
      if (cacheTried || !returning()) return later();
      cacheTried = true;
      fromCache().catch(function (error) {
        if (w.console) w.console.warn("LiveChat: no deployment answered and no widget is kept", error);
        later();
      });
      return;
    }
    var base = String(settings.deployments[index]).replace(/\/+$/, ""), js = base + "/widget/widget.js";
    within(4000, import(js))
      .then(function (widget) {
        settings.assetBase = base;
        return within(20000, fetch(base + "/widget/widget_bg.wasm")).then(function (wasm) {
          if (!wasm.ok) throw new Error("HTTP " + wasm.status);
          var kept = wasm.clone();
          return widget.default({ module_or_path: wasm }).then(function () { keep(js, kept); });
        });
      })
      .catch(function (error) {
        if (w.console) w.console.warn("LiveChat: could not load the widget from " + base, error);
        attempt(index + 1, round);
      });
  }

  function load() {
    if (retry) {
      // Waiting after a failed round: a click is a good moment to try again at once.
      clearTimeout(retry);
      attempt(0, 0);
    } else if (!started) {
      started = true;
      attempt(0, 0);
    }
  }

  function returning() {
    try {
      var prefix = "livechat." + settings.siteId + ".", s = w.localStorage;
      return !!s.getItem(prefix + "conversation") || (s.getItem(prefix + "outbox") || "").indexOf("message_id") >= 0;
    } catch (e) {
      return false;
    }
  }

  // The stored look fills in what the snippet leaves out; an unknown or removed site is
  // unavailable (the widget says so). No answer in time: the snippet's settings and defaults.
  var keys = ["accentColor", "position", "launcherLabel", "title", "greeting", "language", "awayText", "theme"];
  function configure(index, done) {
    if (index >= settings.deployments.length) return done();
    var base = String(settings.deployments[index]).replace(/\/+$/, "");
    within(2500, fetch(base + "/v1/sites/" + encodeURIComponent(settings.siteId) + "/widget-config"))
      .then(function (response) {
        if (response.status === 404) settings.unavailable = true;
        else if (!response.ok) throw new Error("HTTP " + response.status);
        return response.status === 404 ? null : response.json();
      })
      .then(function (config) {
        var look = (config && config.appearance) || {};
        keys.forEach(function (key) {
          if (settings[key] === undefined && look[key] !== undefined) settings[key] = look[key];
        });
        if (config) { settings.forms = config.forms; settings.mail = !!config.mail; settings.files = config.files; }
        // Nobody online and the site hides the launcher then: no button, unless this visitor
        // has a conversation going (the widget then carries on as usual).
        if (config && config.online === false && config.forms && config.forms.offline === "hide_launcher") settings.hidden = true;
        done();
      }, function () { configure(index + 1, done); });
  }

  // The icon's colour on the accent: white or near-black, whichever contrasts more (WCAG's
  // relative luminance), as the widget chooses for its text.
  function ink(hex) {
    var l = [1, 3, 5].map(function (i) {
      var v = parseInt(hex.substr(i, 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    var y = 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
    return 1.05 / (y + 0.05) >= (y + 0.05) / 0.0662 ? "#fff" : "#1d2230";
  }

  function button() {
    var host = d.createElement("div");
    host.id = "livechat-root";
    host.setAttribute("data-loader", "");
    var root = host.attachShadow({ mode: "open" });
    // The same look as the widget's own stylesheet, which replaces this one when it loads.
    root.innerHTML = "<style>:host{all:initial}.launcher{position:fixed;right:20px;bottom:20px;" +
      "z-index:2147483000;width:56px;height:56px;border-radius:50%;border:none;cursor:pointer;" +
      "background:#2f6fed;color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;" +
      "align-items:center;justify-content:center}.launcher svg{width:26px;height:26px;fill:currentColor}</style>" +
      '<button class="launcher" data-testid="chat-launcher" aria-label="Open chat" aria-expanded="false">' +
      '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16v12H7l-3 3z"/></svg></button>';
    launcher = root.querySelector("button");
    if (hiddenByPage) launcher.style.display = "none";
    // Inline, so the look stays when the widget replaces this stylesheet with its own.
    if (/^#[0-9a-f]{6}$/i.test(settings.accentColor || "")) {
      launcher.style.background = settings.accentColor;
      launcher.style.color = ink(settings.accentColor);
    }
    if (settings.position === "bottom_left") { launcher.style.left = "20px"; launcher.style.right = "auto"; }
    if (settings.launcherLabel) launcher.setAttribute("aria-label", launcher.title = String(settings.launcherLabel));
    launcher.addEventListener("click", function () {
      // Once the widget has adopted the button, its clicks are the widget's.
      if (settings.launcherAdopted) return;
      settings.openOnStart = true;
      load();
    });
    d.body.appendChild(host);
  }

  function start() {
    configure(0, function () {
      configured = true;
      if (settings.hidden && !returning() && !wanted) return;
      button();
      if (returning() || wanted) load();
    });
  }
  if (d.readyState === "complete") start();
  else w.addEventListener("load", start);
})();
