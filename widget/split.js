/* Fetches one of the widget's lazily loaded WebAssembly chunks (widget/src/ui/later.rs). The build
   (xtask/src/widget.rs) puts this function into widget.js and makes the chunk loader call it
   instead of fetching beside widget.js, because the deployment that served the widget may be gone
   by the time a visitor first opens a form: the chunk comes from that deployment if it answers in
   time, else from the others in window.LiveChat.deployments in turn, else from the copy this
   browser kept the last time it fetched it (Cache Storage, beside the widget the loader keeps).
   A chunk's name carries the build it belongs to, so a deployment running another release
   answers 404 and is skipped: a chunk never runs against another build's module. */
function livechatChunk(name) {
  var w = window, settings = w.LiveChat || {}, bases = [];
  [settings.assetBase].concat(settings.deployments || []).forEach(function (base) {
    if (typeof base !== "string") return;
    base = base.replace(/\/+$/, "");
    if (base && bases.indexOf(base) < 0) bases.push(base);
  });
  var CACHE = "livechat-widget", KEY = "/livechat-widget/chunk/";
  var build = name.split(".").slice(-2, -1)[0];
  function within(ms, promise) {
    return Promise.race([promise, new Promise(function (_, reject) {
      setTimeout(function () { reject(new Error("no answer within " + ms + " ms")); }, ms);
    })]);
  }
  function keep(response) {
    if (!w.caches) return;
    caches.open(CACHE).then(function (cache) {
      return cache.put(KEY + name, response).then(function () {
        return cache.keys();
      }).then(function (keys) {
        // Chunks of other builds can never run again with this one.
        keys.forEach(function (k) {
          if (k.url.indexOf(KEY) >= 0 && k.url.indexOf("." + build + ".wasm") < 0) cache.delete(k);
        });
      });
    }).catch(function () {});
  }
  function kept() {
    if (!w.caches) return Promise.reject(new Error("no deployment gave " + name));
    return caches.open(CACHE).then(function (cache) {
      return cache.match(KEY + name);
    }).then(function (response) {
      if (!response) throw new Error("no deployment gave " + name + " and none is kept");
      return response;
    });
  }
  function attempt(index) {
    if (index >= bases.length) return kept();
    // The answer's headers, as the loader's import: a frozen deployment accepts the connection
    // and never answers. The body then streams into the compiler without a deadline.
    return within(4000, fetch(bases[index] + "/widget/" + name)).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      keep(response.clone());
      return response;
    }).catch(function (error) {
      if (w.console) w.console.warn("LiveChat: could not load " + name + " from " + bases[index], error);
      return attempt(index + 1);
    });
  }
  return attempt(0);
}
