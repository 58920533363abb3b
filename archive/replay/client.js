// Keeps an archived page's own scripts inside the archive while it is replayed.
//
// The replay server rewrites the URLs it can see in HTML and CSS. The ones a script makes at
// run time it cannot: fetch() and XMLHttpRequest, window.open(), history.pushState(), an
// element's src or href set from script (lazy-loaded images), and navigations such as
// `location = url`. This script, loaded first in every replayed page, sends each of them to
// the capture of that URL nearest to the page's own time:
//
//   https://news.example/a.json     ->  /<coll>/<timestamp>/https://news.example/a.json
//   /a.json (on the replay server)  ->  /<coll>/<timestamp>/https://news.example/a.json
//
// Navigations are caught with the Navigation API where the browser has it (Chromium 102,
// Firefox 147, Safari 26), and by clicks on links elsewhere. What it cannot catch (a script
// reading location.hostname, a module's root-relative import) is left to the server, which
// sends a request that arrives without the replay prefix back into the archive by its Referer.
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || window.__archiveReplay) return;
  var coll = me.getAttribute("data-coll"), stamp = me.getAttribute("data-timestamp"),
      modifier = me.getAttribute("data-modifier") || "", original = me.getAttribute("data-url");
  // (window.origin: a srcdoc frame's location is about:srcdoc, its origin its parent's)
  var here = window.origin && window.origin !== "null" ? window.origin : window.location.origin;
  var prefix = "/" + coll + "/", own = "/_archive/";
  window.__archiveReplay = {collection: coll, timestamp: stamp, url: original};

  // The archived URL a relative one is resolved against: the page's <base href> (rewritten
  // to a replay URL, as every URL in the page) or the page's own URL, as archived.
  function literally(text) { return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }
  var replayed = new RegExp("^" + literally(prefix) + "[^/]*/(https?://.*)$");
  // A replay URL (or this server's own): "/<coll>/[<timestamp><modifier>/]http(s)://...", the
  // timestamp "*" for the list of captures, so that a path of the archived site that starts
  // as the collection's name is not taken for one.
  var inArchive = new RegExp("^(?:" + literally(here) + ")?(?:" + literally(prefix)
                             + "(?:(?:[0-9]{1,14}|\\*)(?:[a-z]{2,5}_)?/)?https?:|" + literally(own) + ")", "i");
  function archivedBase() {
    var base = document.baseURI, found = base.indexOf(here) === 0 && replayed.exec(base.slice(here.length));
    return found ? found[1] : original;
  }

  // The replay URL of `value`, or `value` itself if it needs none (another scheme, a URL
  // already in the archive, something that is not a URL). A relative URL is resolved as the
  // archived page would have it, so that "../" cannot climb out of the archived site.
  function archived(value) {
    var text = String(value).trim(), url;
    if (inArchive.test(text)) return value;
    try {
      url = new URL(text, archivedBase());
      if (url.protocol !== "http:" && url.protocol !== "https:") return value;
      if (url.origin === here) url = new URL(url.pathname + url.search + url.hash, original);  // this server's
    } catch (e) {
      return value;
    }
    return prefix + stamp + modifier + "/" + url.href;
  }

  // A srcset as HTML reads it: a URL runs to white space (commas inside it are its own, only
  // trailing ones end it), its descriptors to the next comma outside parentheses.
  function archivedSrcset(value) {
    var text = String(value), out = [], pos = 0, n = text.length, changed = false;
    while (pos < n) {
      while (pos < n && /[\s,]/.test(text[pos])) pos++;
      if (pos >= n) break;
      var start = pos;
      while (pos < n && !/\s/.test(text[pos])) pos++;
      var url = text.slice(start, pos), descriptors = "";
      if (/,$/.test(url)) {
        url = url.replace(/,+$/, "");
      } else {
        var from = pos, depth = 0;
        while (pos < n && (text[pos] !== "," || depth > 0)) {
          if (text[pos] === "(") depth++;
          else if (text[pos] === ")" && depth > 0) depth--;
          pos++;
        }
        descriptors = text.slice(from, pos).trim();
        pos++;
      }
      if (!url) continue;
      var to = archived(url);
      changed = changed || to !== url;
      out.push(to + (descriptors ? " " + descriptors : ""));
    }
    return changed ? out.join(", ") : value;
  }

  // url()s in CSS text: those of http(s) resources, as the replay server rewrites stylesheets.
  // The URL is read as the browser reads it, its escapes undone (CSS Syntax §4.3.7: up to six
  // hex digits and one white space after them, a newline in a string, any other character as
  // itself: url(\2f img\2f a.png) is /img/a.png), and written back where none of its
  // characters can end the string or begin an escape.
  var cssUrl = /url\(\s*(["']?)([\s\S]*?)\1\s*\)/gi;
  var cssEscape = /\\(?:([0-9a-fA-F]{1,6})(?:\r\n|[ \t\n\r\f])?|(\r\n|[\n\r\f])|([\s\S]))/g;
  function cssUnescape(text) {
    if (text.indexOf("\\") < 0) return text;
    return text.replace(cssEscape, function (whole, hex, newline, other) {
      if (hex) {
        var code = parseInt(hex, 16);
        return code > 0 && code <= 0x10FFFF && (code < 0xD800 || code > 0xDFFF) ? String.fromCodePoint(code) : "\uFFFD";
      }
      return newline ? "" : other;
    });
  }
  function archivedCss(value) {
    var text = String(value), changed = false;
    var out = text.replace(cssUrl, function (whole, quote, written) {
      var url = cssUnescape(written);
      var to = url && !/^data:/i.test(url) ? archived(url) : url;
      if (to === url) return whole;
      changed = true;
      return 'url("' + to.replace(/\\/g, "%5C").replace(/"/g, "%22").replace(/\n/g, "%0A") + '")';
    });
    return changed ? out : value;
  }

  // -- requests made by script
  var realFetch = window.fetch;
  if (realFetch) {
    window.fetch = function (input, init) {
      if (typeof Request !== "undefined" && input instanceof Request) {
        var to = archived(input.url);
        if (to !== input.url && (input.method === "GET" || input.method === "HEAD")) {
          input = new Request(to, input);
        } else if (to !== input.url) {
          // (one with a body, a POST replay answers with its capture: the body read first, as
          // copied as a stream Chromium would not upload it over HTTP/1.1)
          var asked = input, self = this;
          return asked.arrayBuffer().then(function (body) {
            return realFetch.call(self, new Request(to, {
              method: asked.method, headers: asked.headers, body: body, credentials: asked.credentials,
              cache: asked.cache, redirect: asked.redirect, integrity: asked.integrity, signal: asked.signal}), init);
          });
        }
      } else {
        input = archived(input);
      }
      return realFetch.call(this, input, init);
    };
  }
  var realOpen = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url) {
    var args = Array.prototype.slice.call(arguments);
    args[1] = archived(url);
    return realOpen.apply(this, args);
  };
  // A document made of a blob is the page's own markup without this script: its scripts could
  // take the window to the live web. Windows and frames are not opened on one.
  function fromBlob(url) { return /^\s*blob:/i.test(String(url)); }
  var realWindowOpen = window.open;
  window.open = function (url) {
    var args = Array.prototype.slice.call(arguments);
    if (url && fromBlob(url)) return null;
    if (url) args[0] = archived(url);
    var opened = realWindowOpen.apply(this, args);
    // A window opened empty is this page's to script, and no script of ours is in it: the
    // page gets it through a Proxy that sends the URLs it is navigated to into the archive
    // (w.location = url, w.location.href = url, assign(), replace()), and its peer
    // connections are refused as this window's are. One opened on a replay URL has the
    // client script.
    if (opened && !url) refuseRtc(opened);
    return opened && !url && typeof Proxy !== "undefined" ? steered(opened) : opened;
  };
  function bound(target, key) {
    var value = target[key];
    return typeof value === "function" ? value.bind(target) : value;
  }
  function steered(win) {
    // (a stand-in for its Location, whose methods a Proxy may not replace)
    var real = win.location, place = {
      assign: function (to) { real.assign(archived(to)); },
      replace: function (to) { real.replace(archived(to)); },
      reload: function () { real.reload(); },
      toString: function () { return real.href; }
    };
    ["href", "protocol", "host", "hostname", "port", "pathname", "search", "hash", "origin"].forEach(function (name) {
      Object.defineProperty(place, name, {
        get: function () { return real[name]; },
        set: function (value) { real[name] = name === "href" ? archived(value) : value; }
      });
    });
    return new Proxy(win, {
      get: function (target, key) { return key === "location" ? place : bound(target, key); },
      set: function (target, key, value) {
        target[key] = key === "location" ? archived(value) : value;
        return true;
      }
    });
  }
  ["pushState", "replaceState"].forEach(function (name) {
    var real = history[name];
    history[name] = function (state, title, url) {
      var args = Array.prototype.slice.call(arguments);
      if (url !== undefined && url !== null) args[2] = archived(url);
      return real.apply(this, args);
    };
  });
  ["EventSource", "Worker", "SharedWorker"].forEach(function (name) {
    var Real = window[name];
    if (!Real || typeof Proxy === "undefined") return;
    // (a Proxy keeps the constructor's constants, EventSource.CLOSED, and its subclasses)
    window[name] = new Proxy(Real, {construct: function (target, args, newTarget) {
      if (args.length) args[0] = archived(args[0]);
      return Reflect.construct(target, args, newTarget);
    }});
  });
  if (navigator.sendBeacon) {
    navigator.sendBeacon = function () { return true; };  // analytics: nothing to send them to
  }
  // A peer connection asks STUN and TURN servers of the live web for addresses, over UDP,
  // which no Content-Security-Policy covers.
  function refuseRtc(win) {
    try {
      ["RTCPeerConnection", "webkitRTCPeerConnection"].forEach(function (name) {
        if (win[name]) {
          win[name] = function () { throw new DOMException("no WebRTC in replay", "NotSupportedError"); };
        }
      });
    } catch (e) { /* a frame of another origin: the page cannot reach into it either */ }
  }
  refuseRtc(window);
  // A frame's window has a peer connection of its own: refused there too, as the page gets
  // hold of it through its element (not through window[0], which no script can watch).
  ["HTMLIFrameElement", "HTMLFrameElement", "HTMLObjectElement"].forEach(function (kind) {
    var proto = window[kind] && window[kind].prototype;
    [["contentWindow", function (w) { return w; }],
     ["contentDocument", function (d) { return d && d.defaultView; }]].forEach(function (pair) {
      var desc = proto && Object.getOwnPropertyDescriptor(proto, pair[0]);
      if (!desc || !desc.get) return;
      Object.defineProperty(proto, pair[0], {
        configurable: true, enumerable: desc.enumerable,
        get: function () {
          var value = desc.get.call(this);
          var win = pair[1](value);
          if (win) refuseRtc(win);
          return value;
        }
      });
    });
  });
  if (navigator.serviceWorker) {
    // A worker registered on the replay server would answer for every page under its scope
    // (the method of the prototype too, which a page can call on the container; the server
    // refuses a worker's script besides).
    var noWorker = function () {
      return Promise.reject(new DOMException("no service workers in replay", "SecurityError"));
    };
    navigator.serviceWorker.register = noWorker;
    if (window.ServiceWorkerContainer) {
      ServiceWorkerContainer.prototype.register = noWorker;
    }
  }

  // -- URLs set on elements (not a link's href: scripts read a URL's parts through an <a>,
  // and the page's navigations are caught below)
  var urlProperties = [
    ["HTMLImageElement", "src"], ["HTMLScriptElement", "src"], ["HTMLLinkElement", "href"],
    ["HTMLIFrameElement", "src"], ["HTMLFrameElement", "src"], ["HTMLMediaElement", "src"],
    ["HTMLSourceElement", "src"], ["HTMLTrackElement", "src"], ["HTMLEmbedElement", "src"],
    ["HTMLObjectElement", "data"], ["HTMLVideoElement", "poster"], ["HTMLInputElement", "src"],
    ["HTMLFormElement", "action"], ["HTMLBodyElement", "background"],
    ["HTMLImageElement", "srcset"], ["HTMLSourceElement", "srcset"], ["HTMLLinkElement", "imageSrcset"]
  ];
  urlProperties.forEach(function (pair) {
    var Ctor = window[pair[0]], name = pair[1];
    var described = Ctor && Object.getOwnPropertyDescriptor(Ctor.prototype, name);
    if (!described || !described.set) return;
    var convert = /srcset$/i.test(name) ? archivedSrcset : archived;
    Object.defineProperty(Ctor.prototype, name, {
      configurable: true, enumerable: described.enumerable, get: described.get,
      set: function (value) { described.set.call(this, convert(value)); }
    });
  });
  // (background: the image of a body, a table or its cells, as the server rewrites it)
  var urlAttributes = {src: archived, href: archived, action: archived, formaction: archived, poster: archived,
                       data: archived, background: archived, srcset: archivedSrcset, imagesrcset: archivedSrcset,
                       style: archivedCss};

  var realSetAttribute = Element.prototype.setAttribute, links = /^(a|area)$/;
  Element.prototype.setAttribute = function (name, value) {
    var convert = urlAttributes[String(name).toLowerCase()];
    // (an SVG or MathML element's href is left alone: it may be a fragment of this document)
    if (convert && this.namespaceURI === "http://www.w3.org/1999/xhtml" && !links.test(this.localName)) {
      value = convert(value);
    }
    return realSetAttribute.call(this, name, value);
  };

  // Markup a script writes (innerHTML, insertAdjacentHTML, document.write) is parsed by the
  // browser, not by the replay server: its resources are pointed into the archive as they
  // are added to the page (the browser loads them again from there).
  var xhtml = "http://www.w3.org/1999/xhtml", withUrls = "[src],[srcset],[poster],[data],[action],[formaction]," +
      "link[href],[imagesrcset],[background],[style*='url(' i]";
  // The same for url()s in styles set from script (a slider's background image), which
  // browsers keep as named properties that no setter of ours can see: they are caught as
  // the style attribute changes.
  function mendStyle(el) {
    var value = el.getAttribute("style");
    if (!value || !/url\(/i.test(value)) return;
    var to = archivedCss(value);
    if (to !== value) realSetAttribute.call(el, "style", to);
  }
  function mend(el) {
    if (el.namespaceURI !== xhtml || links.test(el.localName)) return;
    for (var name in urlAttributes) {
      var value = el.getAttribute(name);
      if (!value || (name === "href" && el.localName !== "link")) continue;
      var to = urlAttributes[name](value);
      if (to !== value) realSetAttribute.call(el, name, to);
    }
  }
  if (window.MutationObserver) {
    new MutationObserver(function (records) {
      for (var i = 0; i < records.length; i++) {
        if (records[i].type === "attributes") {
          mendStyle(records[i].target);
          continue;
        }
        var added = records[i].addedNodes;
        for (var j = 0; j < added.length; j++) {
          var node = added[j];
          if (node.nodeType !== 1) continue;
          mend(node);
          if (node.firstElementChild) Array.prototype.forEach.call(node.querySelectorAll(withUrls), mend);
        }
      }
    }).observe(document.documentElement, {childList: true, subtree: true, attributes: true,
                                           attributeFilter: ["style"]});
  }

  // -- navigations
  function leaves(url) {
    var to = archived(url);
    return to !== url && new URL(to, here).href !== new URL(url, here).href ? to : null;
  }
  // Navigations that would leave the archive are sent to their captures instead, where the
  // browser has the Navigation API. (Not those of a window opened empty: the API is off in
  // its first, blank document.)
  if (window.navigation && window.navigation.addEventListener) {
    window.navigation.addEventListener("navigate", function (event) {
      // (downloadRequest: the filename of a download, "" when the link names none)
      if (!event.cancelable || event.hashChange || typeof event.downloadRequest === "string" || event.formData
          || event.navigationType === "traverse") return;
      if (fromBlob(event.destination.url)) {
        event.preventDefault();
        return;
      }
      var to = leaves(event.destination.url);
      if (to === null) return;
      event.preventDefault();
      to = new URL(to, here).href;
      if (event.navigationType === "replace") window.location.replace(to);
      else window.location.assign(to);
    });
  }

  // A link is pointed into the archive as it is followed, where the Navigation API cannot see
  // it: one that opens another window or tab (a target, a middle or modified click, the
  // context menu's "open in new tab"), and everywhere in a browser without that API. (Links
  // are not rewritten as scripts add them: a script reads a URL's parts through an <a>.)
  function sendLink(el) {
    var link = el && el.closest && el.closest("a[href], area[href]");
    if (!link || link.namespaceURI !== xhtml) return;
    var to = leaves(link.href);
    if (to !== null) link.href = to;
  }
  // (from the moment a pointer is over it: Chromium connects to a link's host as it is pressed)
  ["pointerover", "pointerdown", "click", "auxclick", "contextmenu"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      if (!event.defaultPrevented) sendLink(event.target);
    }, true);
  });
  // (and one a script clicks without putting it in the page, where no listener of ours hears)
  var realClick = HTMLElement.prototype.click;
  HTMLElement.prototype.click = function () {
    sendLink(this);
    return realClick.apply(this, arguments);
  };
  var realDispatch = EventTarget.prototype.dispatchEvent;
  EventTarget.prototype.dispatchEvent = function (event) {
    if (event && event.type === "click" && this.nodeType === 1) sendLink(this);
    return realDispatch.apply(this, arguments);
  };
  // document.open(url, name, features), with three arguments, is window.open.
  var realDocumentOpen = Document.prototype.open;
  Document.prototype.open = function () {
    if (arguments.length >= 3) return window.open.apply(window, arguments);
    return realDocumentOpen.apply(this, arguments);
  };
})();
