/* LiveChat loader, inlined in the snippet so that it does not depend on any one deployment. It
   waits until the page has finished loading (so the chat never delays it), then imports the
   WebAssembly widget from the first deployment in window.LiveChat.deployments that answers within
   a few seconds, trying the others in turn. The widget renders inside a shadow root and keeps the
   visitor's session and outbox in this page's localStorage, so it is the same whichever
   deployment served these files. */
(function () {
  "use strict";
  var w = window, settings = w.LiveChat;
  if (!settings || !settings.deployments || !settings.deployments.length || w.__liveChatLoader) return;
  w.__liveChatLoader = true;

  function within(ms, promise) {
    // A frozen deployment accepts the connection and never answers: give up on it in time.
    return Promise.race([promise, new Promise(function (_, reject) {
      setTimeout(function () { reject(new Error("no answer within " + ms + " ms")); }, ms);
    })]);
  }

  function attempt(index, round) {
    if (index >= settings.deployments.length) {
      // Every deployment failed; try again later, more and more patiently, up to once a minute.
      setTimeout(function () { attempt(0, round + 1); }, Math.min(60000, 2000 * Math.pow(2, round)));
      return;
    }
    var base = String(settings.deployments[index]).replace(/\/+$/, "");
    within(4000, import(base + "/widget/widget.js"))
      .then(function (widget) {
        settings.assetBase = base;
        return widget.default({ module_or_path: base + "/widget/widget_bg.wasm" });
      })
      .catch(function (error) {
        if (w.console) w.console.warn("LiveChat: could not load the widget from " + base, error);
        attempt(index + 1, round);
      });
  }

  function start() { attempt(0, 0); }
  if (document.readyState === "complete") start();
  else w.addEventListener("load", start);
})();
