/* <clinks-chat>: the public chat of the Clinks guidance assistant, as one custom element.
   The app's page shows it inline; /embed.js puts it on another site as a launcher and a dialog
   (the `widget` attribute). Its styles live in its shadow root (chat.css), so nothing leaks into
   or out of a host page. Text from the server is only ever set with textContent: never innerHTML.
   Every string it shows comes from a locale file (static/locales/en-GB.json, cy.json); the
   answers stay in the guidance's language. No framework, no build step. */
(function () {
  "use strict";
  if (window.customElements.get("clinks-chat")) return;

  var me = document.currentScript;
  var SRC = me ? new URL(me.src, location.href) : null;
  var BASE = SRC ? SRC.origin : location.origin;
  var VERSION = SRC ? SRC.searchParams.get("v") : null; // the files' content hash: cached for good under it
  var STORE = "clinks-assistant:conversation";
  var LANGUAGE_STORE = "clinks-assistant:language";
  var LANGUAGES = ["en-GB", "cy"];
  var HISTORY_TURNS = 10; // the API takes up to 20 entries: the last 10 questions and answers
  var HISTORY_CHARS = 20000; // the API's limit on one entry
  var KEEP_TURNS = 50; // what the tab keeps: enough for any conversation, well within sessionStorage
  var reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  var SVG = "http://www.w3.org/2000/svg";
  var ICONS = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
    up: "M2 10h4v11H2zM8 21h9.5a2 2 0 0 0 2-1.6l1.4-7A2 2 0 0 0 19 10h-5l.8-4.4A2 2 0 0 0 12.9 3L8 10z",
    down: "M2 3h4v11H2zM8 3h9.5a2 2 0 0 1 2 1.6l1.4 7A2 2 0 0 1 19 14h-5l.8 4.4a2 2 0 0 1-1.9 2.6L8 14z"
  };

  /* Build an element: el("p", {class: "x", text: "..."}, [children]). Attributes are set one by one,
     text with textContent, so nothing from the server or a host page is ever parsed as HTML. */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function icon(name) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(SVG, "path");
    path.setAttribute("d", ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  function srOnly(text) { return el("span", {class: "sr-only", text: text}); }

  function asset(path) { return BASE + path + (VERSION ? "?v=" + encodeURIComponent(VERSION) : ""); }

  /* A locale's strings (one request per language, kept for the page's life; the browser keeps the
     file under its content hash). */
  var locales = {};
  function loadLocale(lang) {
    if (!locales[lang]) {
      locales[lang] = fetch(asset("/static/locales/" + lang + ".json")).then(function (r) {
        if (!r.ok) throw new Error("locale " + r.status);
        return r.json();
      });
      locales[lang].catch(function () { delete locales[lang]; }); // a later attempt asks again
    }
    return locales[lang];
  }

  /* A locale's string with its "{name}" places filled in. */
  function fmt(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (m, key) {
      return values && values[key] !== undefined ? String(values[key]) : m;
    });
  }

  /* "8 March 2022", "8 Mawrth 2022": the months from the locale (browsers do not all know Welsh). */
  function date(iso, words) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    var month = m && words.months[Number(m[2]) - 1];
    return month ? Number(m[3]) + " " + month + " " + m[1] : iso || "";
  }

  /* The choice a person made with the switch, else the host page's Welsh, else the deployer's. */
  function chosenLanguage(config, isWidget) {
    var stored = null;
    try { stored = localStorage.getItem(LANGUAGE_STORE); } catch (e) { stored = null; }
    if (LANGUAGES.indexOf(stored) >= 0) return stored;
    var page = (document.documentElement.getAttribute("lang") || "").toLowerCase();
    if (isWidget && /^cy\b/.test(page)) return "cy";
    return LANGUAGES.indexOf(config.language) >= 0 ? config.language : "en-GB";
  }

  /* A source's address as a link: the app's own /documents/... resolved against the app (not the
     host page), and only web, e-mail and phone links: never javascript: or the like. */
  function safeUrl(u) {
    try {
      var url = new URL(u, BASE + "/");
      return /^(https?|mailto|tel):$/.test(url.protocol) ? url.href : null;
    } catch (e) { return null; }
  }

  function escapeRegExp(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

  /* Links in answer text: web addresses, e-mail addresses, and the deployer's contacts' phone
     numbers (tap to call). Only those phone numbers are linked: never a guess at one. */
  function linker(contacts) {
    var phones = (contacts || []).map(function (c) { return c.phone; }).filter(Boolean);
    var parts = ["https?://[^\\s<>\"]+[^\\s<>\".,;:!?)]", "[\\w.+-]+@[\\w-]+(?:\\.[\\w-]+)+"];
    phones.forEach(function (p) { parts.push(escapeRegExp(p)); });
    var pattern = new RegExp(parts.join("|"), "g");
    return function (text, parent) {
      var last = 0;
      text.replace(pattern, function (match, offset) {
        parent.appendChild(document.createTextNode(text.slice(last, offset)));
        var href = /^https?:/.test(match) ? match
          : match.indexOf("@") > 0 ? "mailto:" + match
          : "tel:" + match.replace(/[^\d+]/g, "");
        var external = /^https?:/.test(href);
        parent.appendChild(el("a", {href: href, target: external ? "_blank" : null, rel: external ? "noopener" : null}, [
          match, external ? srOnly(" (opens in a new tab)") : null
        ]));
        last = offset + match.length;
        return match;
      });
      parent.appendChild(document.createTextNode(text.slice(last)));
    };
  }

  /* Light Markdown (paragraphs, "- " lists two deep, **bold**, [n] source markers) built as DOM.
     `cite(n)` gives a marker's source ({k, title, open}), or null while the answer is still
     arriving: the marker is then drawn as its number, and becomes a link when the answer is complete. */
  function renderText(text, cite, link, words) {
    var box = document.createDocumentFragment();
    function inline(line, parent) {
      line.split(/(\*\*[^*]+\*\*|\[\d+\])/).forEach(function (part) {
        if (!part) return;
        var bold = /^\*\*([^*]+)\*\*$/.exec(part);
        var marker = /^\[(\d+)\]$/.exec(part);
        var source = marker && cite ? cite(Number(marker[1])) : null;
        if (bold) {
          var strong = el("strong");
          link(bold[1], strong);
          parent.appendChild(strong);
        } else if (source) {
          parent.appendChild(el("a", {
            class: "cite", href: "#" + source.id, "aria-label": fmt(words.sourceLabel, {n: source.k, title: source.title}),
            onclick: function (e) { e.preventDefault(); source.open(); }
          }, [String(source.k)]));
        } else if (marker && !cite) {
          parent.appendChild(el("span", {class: "cite", "aria-hidden": "true", text: marker[1]}));
        } else {
          link(part, parent);
        }
      });
    }
    text.split(/\n\s*\n/).forEach(function (block) {
      var lines = block.split("\n").filter(function (l) { return l.trim(); });
      var list = null, sub = null, para = null;
      lines.forEach(function (line) {
        var item = /^(\s*)- (.*)$/.exec(line);
        if (item && item[1].length >= 2 && list && list.lastChild) {
          if (!sub || sub.parentNode !== list.lastChild) { sub = el("ul"); list.lastChild.appendChild(sub); }
          var li = el("li"); inline(item[2], li); sub.appendChild(li);
        } else if (item) {
          if (!list) { list = el("ul"); box.appendChild(list); }
          var top = el("li"); inline(item[2], top); list.appendChild(top);
        } else {
          list = null;
          para = el("p"); inline(line.trim(), para); box.appendChild(para);
        }
      });
    });
    return box;
  }

  /* What has arrived so far, as it will look when complete: an unclosed **bold** is closed, and a
     half-arrived marker ("[1") or list dash on a line of its own waits for the rest. */
  function settled(text) {
    var out = text.replace(/\[\d*$/, "").replace(/(^|\n)[ \t]*-?[ \t]*$/, "$1");
    if ((out.match(/\*\*/g) || []).length % 2) out = /\*\*\s*$/.test(out) ? out.replace(/\*\*\s*$/, "") : out + "**";
    return out;
  }

  /* One card per passage: citations of the same passage share a card and a number. Cards with the
     same title and section also say how their passages start, so that they can be told apart. */
  function sourceCards(citations) {
    var cards = [], byPassage = {}, byN = {}, sameHeading = {};
    (citations || []).forEach(function (c) {
      var key = [c.title, c.section, c.quote].join("\n");
      var card = byPassage[key];
      if (!card) {
        card = {c: c, k: cards.length + 1, ns: []};
        byPassage[key] = card;
        cards.push(card);
      }
      card.ns.push(c.n);
      byN[c.n] = card;
    });
    cards.forEach(function (card) {
      var heading = card.c.title + "\n" + card.c.section;
      sameHeading[heading] = (sameHeading[heading] || 0) + 1;
    });
    cards.forEach(function (card) { card.twin = sameHeading[card.c.title + "\n" + card.c.section] > 1; });
    return {cards: cards, byN: byN};
  }

  /* A marker's number as shown: its card's; the same card twice in a row is marked once. */
  function renumbered(text, byN) {
    return text.replace(/\[(\d+)\]/g, function (m, n) { return byN[n] ? "[" + byN[n].k + "]" : m; })
      .replace(/(\[\d+\])(\s*\1)+/g, "$1");
  }

  function firstWords(quote, n) {
    var first = quote.replace(/\*\*/g, "").replace(/^\s*-\s+/gm, "").split(/\s+/).filter(Boolean).slice(0, n).join(" ");
    return first.replace(/[.,;:!?]+$/, ""); // the ellipsis follows
  }

  function lastPart(section) { var parts = String(section || "").split(" > "); return parts[parts.length - 1]; }

  /* The answer's text as read aloud: prose (list items as sentences, no markers), then its sources. */
  function spoken(text, cards, words) {
    var lines = text.replace(/\*\*([^*]+)\*\*/g, "$1").replace(/\s*\[\d+\]/g, "").split(/\n+/)
      .map(function (l) { return l.replace(/^\s*-\s+/, "").trim(); })
      .filter(Boolean)
      .map(function (l) { return /[.!?:;…]$/.test(l) ? l : l + "."; });
    var out = lines.join(" ");
    if (!cards.length) return out;
    var count = cards.length === 1 ? words.oneSourceBelow : fmt(words.sourcesBelow, {n: cards.length});
    return out + " " + count + ": " + cards.map(function (card) {
      return card.c.title + (card.c.section ? ", " + lastPart(card.c.section) : "");
    }).join("; ") + ".";
  }

  /* A random id for this conversation, sent with each question so that the staff console can count
     how many conversations asked about a topic (one person asking again and again counts once). It
     names a conversation in this tab, never a person; a new conversation gets a new one. */
  function newConversation() {
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function load() {
    try {
      var data = JSON.parse(sessionStorage.getItem(STORE) || "null");
      if (data && Array.isArray(data.turns)) {
        if (!/^[0-9a-f]{32}$/.test(data.conversation || "")) data.conversation = newConversation();
        return data;
      }
    } catch (e) { /* storage blocked or damaged: start afresh */ }
    return {turns: [], draft: "", conversation: newConversation()};
  }

  /* Server-Sent Events over a POST: the browser's EventSource can only GET. */
  async function askStream(body, onText, words) {
    var response = await fetch(BASE + "/api/ask/stream", {
      method: "POST",
      headers: {"content-type": "application/json", accept: "text/event-stream"},
      body: JSON.stringify(body)
    });
    if (!response.ok) {
      var problem = await response.json().catch(function () { return {}; });
      // Every error is {"error": {"code", "message"}}, its message a sentence meant for people;
      // the locale has its own wording of the ones a person may meet.
      var said = problem.error && (problem.error.message || problem.error);
      said = typeof said === "string" ? said : "";
      var own = problem.error && words.errors[problem.error.code];
      var wait = /(\d+) second/.exec(said);
      var err = new Error(own ? fmt(own, {seconds: wait ? wait[1] : "30"}) : said || fmt(words.couldNotAnswer, {status: response.status}));
      err.kind = "refused";
      throw err;
    }
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "", final = null;
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, {stream: true}).replace(/\r\n?/g, "\n");
      var cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        var raw = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        var event = "message", data = [];
        raw.split("\n").forEach(function (line) {
          if (line.indexOf("event:") === 0) event = line.slice(6).trim();
          else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
        });
        if (!data.length) continue;
        var value = JSON.parse(data.join("\n"));
        if (event === "text") onText(value);
        else if (event === "answer") final = value;
      }
    }
    if (!final) throw new Error(words.closedEarly);
    return final;
  }

  class ClinksChat extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) return;
      var self = this, config = {};
      try { config = JSON.parse(this.getAttribute("data-config") || "{}"); } catch (e) { config = {}; }
      this.config = config;
      this.isWidget = this.hasAttribute("widget");
      this.state = load();
      this.link = linker(config.contacts);
      this.uid = "c" + Math.random().toString(36).slice(2, 8);
      var colour = this.getAttribute("data-colour") || "";
      if (/^#([0-9a-f]{3}){1,2}$/i.test(colour)) {
        this.style.setProperty("--accent", colour);
        this.style.setProperty("--on-accent", textOn(colour));
      }
      var root = this.attachShadow({mode: "open"});
      var css = el("link", {rel: "stylesheet", href: asset("/static/chat.css")});
      var shell = el("div", {class: "shell", hidden: true});
      this.shell = shell;
      var styled = new Promise(function (resolve) {
        css.addEventListener("load", resolve);
        css.addEventListener("error", resolve);
      });
      root.appendChild(css);
      root.appendChild(shell);
      var lang = chosenLanguage(config, this.isWidget);
      var words = loadLocale(lang).catch(function () { return loadLocale("en-GB"); });
      Promise.all([words, styled]).then(function (got) {
        self.words = got[0];
        self.build(shell);
        self.renderAll();
        shell.hidden = false;
        self.showLatest(); // after a reload: back at the last question and its answer
        performance.mark("clinks-chat-ready"); // usable from here: styled, the box and the welcome shown
      }, function () {
        // Without its strings the chat cannot be shown: say so in both languages.
        shell.textContent = "The chat could not load: please reload the page. / Nid oedd modd llwytho'r sgwrs: ail-lwythwch y dudalen.";
        shell.hidden = false;
      });
    }

    /* The parts that stay (the widget's launcher and dialog), then the chat itself. */
    build(shell) {
      var self = this;
      this.chat = el("div", {class: "chat"});
      this.live = el("div", {class: "sr-only", "aria-live": "polite", "aria-atomic": "true"});
      if (!this.isWidget) {
        shell.appendChild(this.chat);
        document.addEventListener("click", function (e) {
          // The page's skip link: the question box is inside this element, where a #fragment cannot reach.
          var a = e.target.closest && e.target.closest('a[href="#question"]');
          if (a) { e.preventDefault(); self.box.focus(); }
        });
      } else {
        this.launcher = el("button", {
          type: "button", class: "launcher", "aria-haspopup": "dialog", "aria-expanded": "false",
          onclick: function () { self.openPanel(); },
          onkeydown: function (e) { if (e.key === "Escape") self.tip.classList.add("dismissed"); },
          onmouseenter: function () { self.tip.classList.remove("dismissed"); },
          onfocus: function () { self.tip.classList.remove("dismissed"); }
        }, [icon("chat")]);
        this.tip = el("span", {class: "tip", "aria-hidden": "true"});
        this.dialog = el("dialog", {class: "panel", "aria-labelledby": this.uid + "-title", "aria-modal": "true"}, [this.chat]);
        this.dialog.addEventListener("cancel", function (e) { e.preventDefault(); self.closePanel(); });
        this.dialog.addEventListener("keydown", function (e) { if (e.key === "Tab") self.trapTab(e); });
        this.dialog.addEventListener("click", function (e) {
          if (e.target !== self.dialog) return; // a click on the backdrop, outside the panel, closes it
          var r = self.dialog.getBoundingClientRect();
          if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) self.closePanel();
        });
        var side = this.getAttribute("data-side") === "left" ? "left" : "right";
        shell.appendChild(el("div", {class: "widget " + side}, [this.launcher, this.tip, this.dialog]));
        this.fitViewport = function () {
          var vv = window.visualViewport;
          if (vv) self.style.setProperty("--vvh", vv.height + "px"); // the box stays above a phone's keyboard
        };
      }
      this.fill();
    }

    /* The chat in the current language: built again when a person switches. */
    fill() {
      var self = this, id = this.uid, w = this.words;
      this.shell.setAttribute("lang", w.lang);
      this.heading = this.getAttribute("data-title") || this.config.title || w.defaultTitle;
      this.english = w.lang !== "en-GB"; // the guidance's text, in an interface that is not English, is marked as English
      if (!this.isWidget) {
        document.documentElement.setAttribute("lang", w.lang);
        var skip = document.querySelector('a.skip[href="#question"]');
        if (skip) skip.textContent = w.skip;
      } else {
        this.launcher.setAttribute("aria-label", this.heading);
        this.tip.textContent = this.heading;
      }
      this.log = el("section", {class: "log", "aria-labelledby": id + "-log", tabindex: "0"});
      this.countLive = el("div", {class: "sr-only", "aria-live": "polite"});
      this.box = el("textarea", {
        id: id + "-q", name: "question", rows: "2", autocomplete: "off", spellcheck: "true",
        "aria-describedby": id + "-hint " + id + "-count",
        oninput: function () { self.onInput(); },
        onkeydown: function (e) {
          if (e.key === "Enter" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey && !e.isComposing) {
            e.preventDefault();
            self.send();
          }
        }
      });
      this.count = el("p", {class: "count", id: id + "-count", hidden: true});
      this.retry = el("div", {class: "retry", hidden: true});
      this.sendButton = el("button", {type: "submit", class: "send"}, [w.send]);
      var form = el("form", {class: "ask", onsubmit: function (e) { e.preventDefault(); self.send(); }}, [
        this.retry,
        el("label", {for: id + "-q", text: w.questionLabel}),
        el("div", {class: "row"}, [this.box, this.sendButton]),
        this.count,
        el("p", {class: "hint", id: id + "-hint", text: w.hint})
      ]);
      // The other language, named in itself (and spoken in its own voice).
      this.switcher = el("button", {type: "button", class: "plain switch", lang: w.switchTo, onclick: function () { self.switchLanguage(w.switchTo); }}, [w.switchLabel]);
      var bar = this.isWidget ? el("div", {class: "bar"}, [
        el("h2", {id: id + "-title", text: this.heading}),
        this.switcher,
        el("button", {type: "button", class: "plain close", onclick: function () { self.closePanel(); }}, [w.close, srOnly(w.closeMore)])
      ]) : el("div", {class: "tools"}, [this.switcher]);
      // After the last answer: start again (shown once there is a conversation).
      this.restart = el("div", {class: "restart"}, [
        el("button", {type: "button", class: "plain", onclick: function () { self.reset(); }}, [w.newConversation])
      ]);
      this.chat.textContent = "";
      [bar, el("h2", {class: "sr-only", id: id + "-log", text: w.conversation}), this.log, this.live, this.countLive, form].forEach(function (n) {
        self.chat.appendChild(n);
      });
      this.box.value = this.state.draft || "";
    }

    async switchLanguage(lang) {
      var words;
      try { words = await loadLocale(lang); } catch (e) { return; }
      try { localStorage.setItem(LANGUAGE_STORE, lang); } catch (e) { /* blocked: for this page only */ }
      if (this.busy) return; // an answer arriving is not interrupted; the switch waits for the next click
      var scrolled = this.log.scrollTop;
      this.words = words;
      this.hideRetry();
      this.fill();
      this.renderAll();
      this.log.scrollTop = scrolled;
      this.switcher.focus(); // the same place, now naming the language just left
      this.live.textContent = words.switched;
    }

    /* ---- the widget's dialog ---- */
    openPanel() {
      if (this.dialog.open) return;
      this.savedOverflow = document.documentElement.style.overflow;
      document.documentElement.style.overflow = "hidden"; // the page behind does not scroll
      this.fitViewport();
      if (window.visualViewport) window.visualViewport.addEventListener("resize", this.fitViewport);
      this.dialog.showModal();
      this.launcher.setAttribute("aria-expanded", "true");
      this.showLatest();
      this.box.focus();
    }

    closePanel() {
      if (!this.dialog || !this.dialog.open) return;
      this.dialog.close();
      document.documentElement.style.overflow = this.savedOverflow || "";
      if (window.visualViewport) window.visualViewport.removeEventListener("resize", this.fitViewport);
      this.launcher.setAttribute("aria-expanded", "false");
      this.launcher.focus();
    }

    trapTab(e) {
      var items = Array.prototype.filter.call(
        this.dialog.querySelectorAll("a[href], button, textarea, summary, [tabindex='0']"),
        function (n) { return !n.disabled && n.getClientRects().length > 0; }
      );
      if (!items.length) return;
      var first = items[0], last = items[items.length - 1], active = this.shadowRoot.activeElement;
      if (e.shiftKey && (active === first || items.indexOf(active) < 0)) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && (active === last || items.indexOf(active) < 0)) { e.preventDefault(); first.focus(); }
    }

    /* ---- the conversation ---- */
    save() {
      try { sessionStorage.setItem(STORE, JSON.stringify(this.state)); } catch (e) { /* full or blocked: keep going */ }
    }

    renderAll() {
      this.log.textContent = "";
      this.log.appendChild(this.welcome());
      var self = this;
      this.state.turns.forEach(function (turn, i) {
        self.log.appendChild(self.questionNode(turn.q));
        self.log.appendChild(self.answerNode(turn, i));
      });
      if (this.state.turns.length) this.log.appendChild(this.restart);
      this.onInput();
      this.showLatest();
    }

    /* A value from the deployer's file inside a sentence of the interface: it keeps its language. */
    theirs(text) { return this.english ? el("span", {lang: "en-GB", text: text}) : text; }

    /* A sentence of the locale whose one {place} holds the deployer's text, as nodes. */
    sentence(template, key, value) {
      var at = template.indexOf("{" + key + "}");
      if (at < 0) return [template];
      return [template.slice(0, at), this.theirs(value), template.slice(at + key.length + 2)];
    }

    welcome() {
      var self = this, c = this.config, w = this.words;
      var custom = this.getAttribute("data-greeting");
      var greeting = custom ? [custom] : c.name ? this.sentence(w.greeting, "name", c.name) : [fmt(w.greeting, {name: w.defaultName})];
      var starters = (c.starters || []).map(function (q) {
        return el("li", {}, [el("button", {type: "button", class: "starter", lang: self.english ? "en-GB" : null, onclick: function () { self.box.value = q; self.send(); }}, [q])]);
      });
      return el("div", {class: "welcome"}, [
        el("p", {class: "greeting"}, greeting),
        c.scope ? el("p", {}, this.sentence(w.scope, "scope", c.scope)) : null,
        el("p", {text: w.quoted}),
        w.answersInEnglish ? el("p", {text: w.answersInEnglish}) : null,
        el("p", {class: "privacy"}, [el("strong", {text: w.privacy})]),
        starters.length ? el("p", {id: this.uid + "-try", class: "try", text: w.tryAsking}) : null,
        starters.length ? el("ul", {class: "starters", "aria-labelledby": this.uid + "-try"}, starters) : null
      ]);
    }

    questionNode(q) {
      return el("div", {class: "turn you"}, [el("h3", {class: "sr-only", text: this.words.youAsked}), el("p", {class: "bubble", text: q})]);
    }

    /* A canned message (a decline, a message about the question) in the interface's language;
       null for an answer, which stays in the guidance's language. */
    ownMessage(a) {
      var m = this.words.messages || {}, c = this.config;
      var template = a.message && m[a.message];
      if (!template) return null;
      var help = [c.scope ? fmt(m.helpScope, {scope: c.scope}) : ""].concat((c.contacts || []).map(function (k) {
        var ways = [k.email, k.phone, k.url].filter(Boolean);
        var who = k["for"] ? fmt(m.contactAbout, {topic: k["for"], name: k.name}) : fmt(m.contactAny, {name: k.name});
        return who + (ways.length ? ": " + ways.join(m.or) + "." : ".");
      })).filter(Boolean).join(" ");
      var question = a.question || "";
      return fmt(template, {
        scope: c.scope || m.defaultScope, help: help,
        example: c.example ? fmt(m.example, {question: c.example}) : "",
        length: (question.length || 0).toLocaleString(this.words.lang), max_chars: (c.maxChars || 1000).toLocaleString(this.words.lang)
      });
    }

    answerNode(turn, index) {
      var self = this, a = turn.a, w = this.words;
      var sources = sourceCards(a.citations);
      var idFor = function (k) { return self.uid + "-s" + index + "-" + k; };
      var own = this.ownMessage({message: a.message, question: turn.q});
      var text = own || renumbered(a.answer, sources.byN);
      var node = el("div", {class: "turn bot" + (a.declined ? " declined" : "")}, [el("h3", {class: "sr-only", text: w.answer})]);
      var bubble = el("div", {class: "bubble", lang: !own && this.english ? "en-GB" : null});
      bubble.appendChild(renderText(text, function (k) {
        var card = sources.cards[k - 1];
        return card ? {k: k, title: card.c.title, id: idFor(k), open: function () { self.openSource(idFor(k)); }} : null;
      }, this.link, w));
      if (!own && a.message === "invalid_welsh" && bubble.firstChild) bubble.firstChild.setAttribute("lang", "cy");
      node.appendChild(bubble);
      if (sources.cards.length) {
        node.appendChild(el("div", {class: "sources"}, [
          el("h4", {text: w.sources}),
          el("ol", {}, sources.cards.map(function (card) { return self.card(card, idFor(card.k)); }))
        ]));
      }
      if (a.answer_id) node.appendChild(this.actions(turn, text, sources.cards));
      this.spokenText = spoken(text, sources.cards, w); // what the live region says once it is complete
      return node;
    }

    card(card, id) {
      var c = card.c, w = this.words, en = this.english ? "en-GB" : null;
      var href = safeUrl(c.url);
      var meta = el("p", {class: "meta"}, [
        c.section ? el("span", {lang: en, text: c.section}) : null,
        c.section && c.date ? " · " : null,
        c.date ? fmt(w.published, {date: date(c.date, w)}) : null
      ]);
      var quote = el("blockquote", {lang: en});
      quote.appendChild(renderText(c.quote, null, this.link, w));
      Array.prototype.forEach.call(quote.querySelectorAll(".cite"), function (n) { n.replaceWith("[" + n.textContent + "]"); });
      return el("li", {class: "card", id: id, tabindex: "-1"}, [
        el("span", {class: "num", "aria-hidden": "true", text: String(card.k)}),
        el("div", {}, [
          href ? el("a", {href: href, target: "_blank", rel: "noopener", class: "title", lang: en}, [c.title, srOnly(w.opensNewTab)])
            : el("strong", {class: "title", lang: en, text: c.title}),
          c.section || c.date ? meta : null,
          card.twin ? el("p", {class: "starts"}, this.sentence(w.quoteStarts, "words", firstWords(c.quote, 8))) : null,
          el("details", {}, [el("summary", {}, [w.showQuote, srOnly(fmt(w.showQuoteMore, {n: card.k}))]), quote])
        ])
      ]);
    }

    openSource(id) {
      var card = this.shadowRoot.getElementById(id);
      if (!card) return;
      card.querySelector("details").open = true;
      card.scrollIntoView({block: "nearest", behavior: reduceMotion.matches ? "auto" : "smooth"});
      card.focus();
    }

    actions(turn, text, cards) {
      var self = this, a = turn.a, w = this.words;
      var note = el("p", {class: "note", role: "status", tabindex: "-1"});
      var up = el("button", {type: "button", class: "rate", "aria-pressed": String(turn.rating === "up")}, [icon("up"), w.helpful]);
      var down = el("button", {type: "button", class: "rate", "aria-pressed": String(turn.rating === "down")}, [icon("down"), w.notHelpful]);
      var reasons = el("fieldset", {class: "reasons", hidden: !(turn.rating === "down" && !turn.reason)}, [el("legend", {text: w.whatWasWrong})].concat(
        Object.keys(this.config.reasons || {}).map(function (key) {
          return el("button", {type: "button", class: "plain reason", onclick: function () {
            turn.reason = key;
            self.save();
            // The reasons go; focus moves to the thanks that takes their place (not to the page).
            reasons.hidden = true;
            note.textContent = w.thanksReason;
            note.focus();
            self.feedback({answer_id: a.answer_id, helpful: false, reason: key}, note, w.thanksReason);
          }}, [(w.reasons && w.reasons[key]) || self.config.reasons[key]]);
        })
      ));
      var rate = function (value) {
        if (turn.rating === value) return;
        turn.rating = value;
        self.save();
        up.setAttribute("aria-pressed", String(value === "up"));
        down.setAttribute("aria-pressed", String(value === "down"));
        reasons.hidden = value !== "down";
        self.feedback({answer_id: a.answer_id, helpful: value === "up"}, note, value === "up" ? w.thanksUp : w.thanksDown);
      };
      up.addEventListener("click", function () { rate("up"); });
      down.addEventListener("click", function () { rate("down"); });
      var copy = el("button", {type: "button", class: "plain copy", onclick: function () { self.copy(text, cards, note); }}, [w.copy, srOnly(w.copyMore)]);
      return el("div", {class: "after"}, [
        el("div", {class: "actions"}, [copy, el("div", {class: "rating", role: "group", "aria-label": w.wasItHelpful}, [up, down])]),
        reasons,
        note
      ]);
    }

    async feedback(body, note, thanks) {
      var w = this.words;
      try {
        var r = await fetch(BASE + "/api/feedback", {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body)});
        note.textContent = r.ok ? thanks : w.feedbackNotSaved;
      } catch (e) {
        note.textContent = w.feedbackNotSent;
      }
    }

    /* The answer as clean text with its sources' links: what "Copy" puts on the clipboard. */
    async copy(text, cards, note) {
      var w = this.words;
      var plain = text.replace(/\*\*([^*]+)\*\*/g, "$1").replace(/^(\s*)- /gm, "$1• ");
      if (cards.length) {
        plain += "\n\n" + w.sourcesHeading + "\n" + cards.map(function (card) {
          var c = card.c;
          return "[" + card.k + "] " + c.title + ", " + c.section + (c.date ? " (" + date(c.date, w) + ")" : "") + ": " + (safeUrl(c.url) || "");
        }).join("\n");
      }
      try {
        await navigator.clipboard.writeText(plain);
      } catch (e) {
        var area = el("textarea", {class: "offscreen", readonly: true, "aria-hidden": "true", tabindex: "-1"});
        area.value = plain;
        this.shadowRoot.appendChild(area);
        area.select();
        document.execCommand("copy");
        area.remove();
      }
      note.textContent = w.copied;
    }

    reset() {
      this.state = {turns: [], draft: "", conversation: newConversation()};
      this.box.value = "";
      this.hideRetry();
      this.save();
      this.renderAll();
      this.live.textContent = this.words.newConversationStarted;
      this.box.focus();
    }

    onInput() {
      var w = this.words, max = this.config.maxChars || 1000, n = this.box.value.length;
      this.state.draft = this.box.value;
      this.save();
      var over = n > max;
      this.count.hidden = n < max * 0.8;
      this.count.classList.toggle("over", over);
      var text = over ? fmt(w.charactersOver, {n: (n - max).toLocaleString(w.lang)})
        : fmt(w.charactersLeft, {n: (max - n).toLocaleString(w.lang)});
      this.count.textContent = text;
      this.box.setAttribute("aria-invalid", String(over));
      clearTimeout(this.countTimer);
      var live = this.countLive;
      if (!this.count.hidden) this.countTimer = setTimeout(function () { live.textContent = text; }, 1000);
    }

    history() {
      var out = [];
      this.state.turns.slice(-HISTORY_TURNS).forEach(function (t) {
        if (t.a.status === "invalid_question") return;
        out.push({role: "user", content: t.q.slice(0, HISTORY_CHARS)});
        out.push({role: "assistant", content: t.a.answer.slice(0, HISTORY_CHARS)});
      });
      return out;
    }

    async send() {
      var q = this.box.value.trim(), w = this.words;
      if (this.busy) return;
      if (!q) { this.box.focus(); return; }
      var max = this.config.maxChars || 1000;
      if (q.length > max) {
        this.showRetry(fmt(w.tooLong, {max: max.toLocaleString(w.lang)}), false);
        this.box.focus();
        return;
      }
      this.busy = true;
      this.hideRetry();
      this.log.setAttribute("aria-busy", "true");
      var you = this.questionNode(q);
      var pending = el("div", {class: "turn bot pending"}, [el("h3", {class: "sr-only", text: w.answer})]);
      var bubble = el("div", {class: "bubble"}, [el("span", {class: "thinking", text: w.thinking})]);
      pending.appendChild(bubble);
      this.restart.remove();
      this.log.appendChild(you);
      this.log.appendChild(pending);
      this.box.value = "";
      this.onInput();
      this.showTurn(you);
      var shown = "", queue = [], self = this;
      var pump = null;
      var drained = new Promise(function (resolve) { pump = resolve; });
      var ended = false;
      // Each piece is drawn as it will look when complete: paragraphs, lists, bold and markers.
      function step() {
        if (queue.length) {
          shown += reduceMotion.matches ? queue.splice(0).join("") : queue.shift();
          var now = settled(shown);
          if (now.trim()) {
            bubble.textContent = "";
            if (self.english) bubble.setAttribute("lang", "en-GB");
            bubble.appendChild(renderText(now, null, self.link, w));
          }
          self.showTurn(you);
        }
        if (queue.length || !ended) tick();
        else pump();
      }
      function tick() { if (document.hidden) setTimeout(step, 0); else requestAnimationFrame(step); }
      tick();
      try {
        var answer = await askStream({question: q, history: this.history(), conversation: this.state.conversation}, function (text) { queue.push(text); }, w);
        var turn = {q: q, a: answer, rating: null};
        if (this.ownMessage({message: answer.message, question: q})) queue.splice(0); // shown in the interface's language, whole
        ended = true;
        await drained;
        this.state.turns.push(turn);
        if (this.state.turns.length > KEEP_TURNS) {
          this.state.turns.splice(0, this.state.turns.length - KEEP_TURNS);
          this.save();
          this.renderAll();
          this.live.textContent = this.spokenText;
          return;
        }
        this.save();
        pending.replaceWith(this.answerNode(turn, this.state.turns.length - 1));
        this.log.appendChild(this.restart);
        this.showTurn(you);
        this.live.textContent = this.spokenText; // the one announcement, once the answer is complete
      } catch (err) {
        ended = true;
        you.remove();
        pending.remove();
        if (!this.box.value) { this.box.value = q; this.onInput(); }
        this.showRetry(err.kind === "refused" ? err.message : w.unreachable, true);
      } finally {
        if (this.state.turns.length) this.log.appendChild(this.restart);
        this.busy = false;
        this.log.removeAttribute("aria-busy");
      }
    }

    showRetry(message, offerRetry) {
      var self = this;
      this.retry.textContent = "";
      this.retry.appendChild(el("p", {role: "alert", text: message}));
      if (offerRetry) this.retry.appendChild(el("button", {type: "button", class: "plain", onclick: function () { self.send(); }}, [this.words.tryAgain]));
      this.retry.hidden = false;
    }

    hideRetry() { this.retry.hidden = true; this.retry.textContent = ""; }

    showLatest() {
      var asked = this.log.querySelectorAll(".you");
      if (asked.length) this.showTurn(asked[asked.length - 1]);
    }

    /* The latest question at the top of the conversation (as far as it scrolls), so its answer
       reads from the start. */
    showTurn(node) { this.log.scrollTop = Math.max(0, node.offsetTop - 8); }
  }

  /* White or near-black text on the deployer's colour, whichever contrasts more. */
  function textOn(hex) {
    var h = hex.length === 4 ? hex.replace(/[0-9a-f]/gi, "$&$&").slice(1) : hex.slice(1);
    var lum = [0, 2, 4].map(function (i) {
      var v = parseInt(h.substr(i, 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    var L = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2];
    return (1.05 / (L + 0.05)) >= ((L + 0.05) / 0.05) ? "#ffffff" : "#0b0c0c";
  }

  window.customElements.define("clinks-chat", ClinksChat);
})();
