/* <clinks-chat>: the public chat of the Clinks guidance assistant, as one custom element.
   The app's page shows it inline; /embed.js puts it on another site as a launcher and a dialog
   (the `widget` attribute). Its styles live in its shadow root (chat.css), so nothing leaks into
   or out of a host page. Text from the server is only ever set with textContent: never innerHTML.
   No framework, no build step. */
(function () {
  "use strict";
  if (window.customElements.get("clinks-chat")) return;

  var me = document.currentScript;
  var BASE = me ? new URL(me.src, location.href).origin : location.origin;
  var STORE = "clinks-assistant:conversation";
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

  function ukDate(iso) {
    var d = /^\d{4}-\d{2}-\d{2}$/.test(iso || "") ? new Date(iso + "T00:00:00Z") : null;
    if (!d || isNaN(d)) return iso || "";
    return new Intl.DateTimeFormat("en-GB", {day: "numeric", month: "long", year: "numeric", timeZone: "UTC"}).format(d);
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

  /* The answer's light Markdown (paragraphs, "- " lists two deep, **bold**, [n] source markers)
     built as DOM. */
  function renderAnswer(text, citations, idFor, onCite, link) {
    var box = document.createDocumentFragment();
    var known = {};
    (citations || []).forEach(function (c) { known[c.n] = c; });
    function inline(line, parent) {
      line.split(/(\*\*[^*]+\*\*|\[\d+\])/).forEach(function (part) {
        if (!part) return;
        var bold = /^\*\*([^*]+)\*\*$/.exec(part);
        var cite = /^\[(\d+)\]$/.exec(part);
        if (bold) {
          var strong = el("strong");
          link(bold[1], strong);
          parent.appendChild(strong);
        } else if (cite && known[cite[1]]) {
          var c = known[cite[1]];
          parent.appendChild(el("a", {
            class: "cite", href: "#" + idFor(c.n), "aria-label": "Source " + c.n + ": " + c.title,
            onclick: function (e) { e.preventDefault(); onCite(c.n); }
          }, [String(c.n)]));
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

  /* The answer as clean text with its sources' links: what "Copy" puts on the clipboard. */
  function plainAnswer(a) {
    var text = a.answer.replace(/\*\*([^*]+)\*\*/g, "$1").replace(/^(\s*)- /gm, "$1• ");
    if (!a.citations || !a.citations.length) return text;
    return text + "\n\nSources:\n" + a.citations.map(function (c) {
      return "[" + c.n + "] " + c.title + ", " + c.section + (c.date ? " (" + ukDate(c.date) + ")" : "") + ": " + (safeUrl(c.url) || "");
    }).join("\n");
  }

  function spoken(a) {
    var text = a.answer.replace(/\*\*([^*]+)\*\*/g, "$1").replace(/\s*\[\d+\]/g, "").replace(/\n+/g, " ");
    var n = (a.citations || []).length;
    return text + (n ? " " + (n === 1 ? "1 source" : n + " sources") + " below." : "");
  }

  function load() {
    try {
      var data = JSON.parse(sessionStorage.getItem(STORE) || "null");
      if (data && Array.isArray(data.turns)) return data;
    } catch (e) { /* storage blocked or damaged: start afresh */ }
    return {turns: [], draft: ""};
  }

  /* Server-Sent Events over a POST: the browser's EventSource can only GET. */
  async function askStream(body, onText) {
    var response = await fetch(BASE + "/api/ask/stream", {
      method: "POST",
      headers: {"content-type": "application/json", accept: "text/event-stream"},
      body: JSON.stringify(body)
    });
    if (!response.ok) {
      var problem = await response.json().catch(function () { return {}; });
      // Every error is {"error": {"code", "message"}}, its message a sentence meant for people.
      var said = problem.error && (problem.error.message || problem.error);
      var err = new Error(typeof said === "string" ? said : "The assistant could not answer (" + response.status + ").");
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
    if (!final) throw new Error("The connection closed before the answer arrived.");
    return final;
  }

  class ClinksChat extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) return;
      var config = {};
      try { config = JSON.parse(this.getAttribute("data-config") || "{}"); } catch (e) { config = {}; }
      this.config = config;
      this.heading = this.getAttribute("data-title") || config.title || "Ask a question";
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
      var css = el("link", {rel: "stylesheet", href: BASE + "/static/chat.css"});
      var shell = el("div", {class: "shell", lang: "en-GB", hidden: true});
      var show = function () {
        shell.hidden = false;
        performance.mark("clinks-chat-ready"); // usable from here: styled, the box and the welcome shown
      };
      css.addEventListener("load", show);
      css.addEventListener("error", show);
      root.appendChild(css);
      root.appendChild(shell);
      this.build(shell);
      this.renderAll();
    }

    build(shell) {
      var self = this, id = this.uid;
      this.log = el("section", {class: "log", "aria-labelledby": id + "-log", tabindex: "0"});
      this.live = el("div", {class: "sr-only", "aria-live": "polite", "aria-atomic": "true"});
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
      this.sendButton = el("button", {type: "submit", class: "send"}, ["Send"]);
      var form = el("form", {class: "ask", onsubmit: function (e) { e.preventDefault(); self.send(); }}, [
        this.retry,
        el("label", {for: id + "-q", text: "Your question"}),
        el("div", {class: "row"}, [this.box, this.sendButton]),
        this.count,
        el("p", {class: "hint", id: id + "-hint", text: "Press Enter to send, or Shift and Enter for a new line."})
      ]);
      var bar = this.isWidget ? el("div", {class: "bar"}, [
        el("h2", {id: id + "-title", text: this.heading}),
        el("button", {type: "button", class: "plain close", onclick: function () { self.closePanel(); }}, ["Close", srOnly(" the chat")])
      ]) : null;
      // After the last answer: start again (shown once there is a conversation).
      this.restart = el("div", {class: "restart"}, [
        el("button", {type: "button", class: "plain", onclick: function () { self.reset(); }}, ["New conversation"])
      ]);
      var chat = el("div", {class: "chat"}, [bar, el("h2", {class: "sr-only", id: id + "-log", text: "Conversation"}), this.log, this.live, this.countLive, form]);
      this.box.value = this.state.draft || "";
      if (!this.isWidget) {
        shell.appendChild(chat);
        document.addEventListener("click", function (e) {
          // The page's skip link: the question box is inside this element, where a #fragment cannot reach.
          var a = e.target.closest && e.target.closest('a[href="#question"]');
          if (a) { e.preventDefault(); self.box.focus(); }
        });
        return;
      }
      this.launcher = el("button", {
        type: "button", class: "launcher", "aria-haspopup": "dialog", "aria-expanded": "false",
        "aria-label": this.heading,
        onclick: function () { self.openPanel(); },
        onkeydown: function (e) { if (e.key === "Escape") tip.classList.add("dismissed"); },
        onmouseenter: function () { tip.classList.remove("dismissed"); },
        onfocus: function () { tip.classList.remove("dismissed"); }
      }, [icon("chat")]);
      var tip = el("span", {class: "tip", "aria-hidden": "true", text: this.heading});
      this.dialog = el("dialog", {class: "panel", "aria-labelledby": id + "-title", "aria-modal": "true"}, [chat]);
      this.dialog.addEventListener("cancel", function (e) { e.preventDefault(); self.closePanel(); });
      this.dialog.addEventListener("keydown", function (e) { if (e.key === "Tab") self.trapTab(e); });
      this.dialog.addEventListener("click", function (e) {
        if (e.target !== self.dialog) return; // a click on the backdrop, outside the panel, closes it
        var r = self.dialog.getBoundingClientRect();
        if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) self.closePanel();
      });
      var side = this.getAttribute("data-side") === "left" ? "left" : "right";
      shell.appendChild(el("div", {class: "widget " + side}, [this.launcher, tip, this.dialog]));
      this.fitViewport = function () {
        var vv = window.visualViewport;
        if (vv) self.style.setProperty("--vvh", vv.height + "px"); // the box stays above a phone's keyboard
      };
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

    welcome() {
      var self = this, c = this.config;
      var greeting = this.getAttribute("data-greeting") || "Hello, I am the " + (c.name || "guidance assistant") + ".";
      var starters = (c.starters || []).map(function (q) {
        return el("li", {}, [el("button", {type: "button", class: "starter", onclick: function () { self.box.value = q; self.send(); }}, [q])]);
      });
      return el("div", {class: "welcome"}, [
        el("p", {class: "greeting", text: greeting}),
        c.scope ? el("p", {text: "I can help with " + c.scope + "."}) : null,
        el("p", {text: "My answers are quoted from the guidance, with a link to each source. Check the source before you rely on an answer."}),
        el("p", {class: "privacy"}, [el("strong", {text: "Please do not type names or any other personal details about people on probation."})]),
        starters.length ? el("p", {id: this.uid + "-try", class: "try", text: "You could ask:"}) : null,
        starters.length ? el("ul", {class: "starters", "aria-labelledby": this.uid + "-try"}, starters) : null
      ]);
    }

    questionNode(q) {
      return el("div", {class: "turn you"}, [el("h3", {class: "sr-only", text: "You asked"}), el("p", {class: "bubble", text: q})]);
    }

    answerNode(turn, index) {
      var self = this, a = turn.a;
      var idFor = function (n) { return self.uid + "-s" + index + "-" + n; };
      var node = el("div", {class: "turn bot" + (a.declined ? " declined" : "")}, [el("h3", {class: "sr-only", text: "Answer"})]);
      var bubble = el("div", {class: "bubble"});
      bubble.appendChild(renderAnswer(a.answer, a.citations, idFor, function (n) { self.openSource(idFor(n)); }, this.link));
      node.appendChild(bubble);
      if (a.citations && a.citations.length) {
        node.appendChild(el("div", {class: "sources"}, [
          el("h4", {text: "Sources"}),
          el("ol", {}, a.citations.map(function (c) { return self.card(c, idFor(c.n)); }))
        ]));
      }
      if (a.answer_id) node.appendChild(this.actions(turn));
      return node;
    }

    card(c, id) {
      var meta = [c.section, c.date ? "Published " + ukDate(c.date) : ""].filter(Boolean).join(" · ");
      var href = safeUrl(c.url);
      return el("li", {class: "card", id: id, tabindex: "-1"}, [
        el("span", {class: "num", "aria-hidden": "true", text: String(c.n)}),
        el("div", {}, [
          href ? el("a", {href: href, target: "_blank", rel: "noopener", class: "title"}, [c.title, srOnly(" (opens in a new tab)")])
            : el("strong", {class: "title", text: c.title}),
          meta ? el("p", {class: "meta", text: meta}) : null,
          el("details", {}, [el("summary", {}, ["Show the quoted passage", srOnly(" from source " + c.n)]), el("blockquote", {text: c.quote.replace(/\*\*/g, "")})])
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

    actions(turn) {
      var self = this, a = turn.a;
      var note = el("p", {class: "note", role: "status"});
      var up = el("button", {type: "button", class: "rate", "aria-pressed": String(turn.rating === "up")}, [icon("up"), "Helpful"]);
      var down = el("button", {type: "button", class: "rate", "aria-pressed": String(turn.rating === "down")}, [icon("down"), "Not helpful"]);
      var reasons = el("fieldset", {class: "reasons", hidden: !(turn.rating === "down" && !turn.reason)}, [el("legend", {text: "What was wrong with it?"})].concat(
        Object.keys(this.config.reasons || {}).map(function (key) {
          return el("button", {type: "button", class: "plain reason", onclick: function () {
            reasons.hidden = true;
            turn.reason = key;
            self.save();
            self.feedback({answer_id: a.answer_id, helpful: false, reason: key}, note, "Thank you. That helps us improve the answers.");
          }}, [self.config.reasons[key]]);
        })
      ));
      var rate = function (value) {
        if (turn.rating === value) return;
        turn.rating = value;
        self.save();
        up.setAttribute("aria-pressed", String(value === "up"));
        down.setAttribute("aria-pressed", String(value === "down"));
        reasons.hidden = value !== "down";
        self.feedback({answer_id: a.answer_id, helpful: value === "up"}, note,
          value === "up" ? "Thank you for your feedback." : "Thank you for your feedback. You can tell us what was wrong.");
      };
      up.addEventListener("click", function () { rate("up"); });
      down.addEventListener("click", function () { rate("down"); });
      var copy = el("button", {type: "button", class: "plain copy", onclick: function () { self.copy(a, note); }}, ["Copy", srOnly(" the answer")]);
      return el("div", {class: "after"}, [
        el("div", {class: "actions"}, [copy, el("div", {class: "rating", role: "group", "aria-label": "Was this answer helpful?"}, [up, down])]),
        reasons,
        note
      ]);
    }

    async feedback(body, note, thanks) {
      try {
        var r = await fetch(BASE + "/api/feedback", {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body)});
        note.textContent = r.ok ? thanks : "Sorry, your feedback could not be saved.";
      } catch (e) {
        note.textContent = "Sorry, your feedback could not be sent. Check your connection.";
      }
    }

    async copy(a, note) {
      var text = plainAnswer(a);
      try {
        await navigator.clipboard.writeText(text);
      } catch (e) {
        var area = el("textarea", {class: "offscreen", readonly: true, "aria-hidden": "true", tabindex: "-1"});
        area.value = text;
        this.shadowRoot.appendChild(area);
        area.select();
        document.execCommand("copy");
        area.remove();
      }
      note.textContent = "Answer and source links copied.";
    }

    reset() {
      this.state = {turns: [], draft: ""};
      this.box.value = "";
      this.hideRetry();
      this.save();
      this.renderAll();
      this.live.textContent = "New conversation started.";
      this.box.focus();
    }

    onInput() {
      var max = this.config.maxChars || 1000, n = this.box.value.length;
      this.state.draft = this.box.value;
      this.save();
      var over = n > max;
      this.count.hidden = n < max * 0.8;
      this.count.classList.toggle("over", over);
      var text = over ? "You have " + (n - max).toLocaleString("en-GB") + " characters too many"
        : "You have " + (max - n).toLocaleString("en-GB") + " characters remaining";
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
      var q = this.box.value.trim();
      if (this.busy) return;
      if (!q) { this.box.focus(); return; }
      var max = this.config.maxChars || 1000;
      if (q.length > max) {
        this.showRetry("Your question is too long. Please shorten it to " + max + " characters or fewer, and ask one thing at a time.", false);
        this.box.focus();
        return;
      }
      this.busy = true;
      this.hideRetry();
      this.log.setAttribute("aria-busy", "true");
      var you = this.questionNode(q);
      var pending = el("div", {class: "turn bot pending"}, [el("h3", {class: "sr-only", text: "Answer"})]);
      var bubble = el("div", {class: "bubble"}, [el("span", {class: "thinking", text: "Looking in the guidance"})]);
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
      var streaming = false, ended = false;
      function step() {
        if (queue.length) {
          if (!streaming) { bubble.textContent = ""; streaming = true; }
          shown += reduceMotion.matches ? queue.splice(0).join("") : queue.shift();
          bubble.textContent = shown.replace(/\*\*/g, "");
          self.showTurn(you);
        }
        if (queue.length || !ended) tick();
        else pump();
      }
      function tick() { if (document.hidden) setTimeout(step, 0); else requestAnimationFrame(step); }
      tick();
      try {
        var answer = await askStream({question: q, history: this.history()}, function (text) { queue.push(text); });
        ended = true;
        await drained;
        var turn = {q: q, a: answer, rating: null};
        this.state.turns.push(turn);
        if (this.state.turns.length > KEEP_TURNS) {
          this.state.turns.splice(0, this.state.turns.length - KEEP_TURNS);
          this.save();
          this.renderAll();
          this.live.textContent = spoken(answer);
          return;
        }
        this.save();
        pending.replaceWith(this.answerNode(turn, this.state.turns.length - 1));
        this.log.appendChild(this.restart);
        this.showTurn(you);
        this.live.textContent = spoken(answer); // the one announcement, once the answer is complete
      } catch (err) {
        ended = true;
        you.remove();
        pending.remove();
        if (!this.box.value) { this.box.value = q; this.onInput(); }
        this.showRetry(err.kind === "refused" ? err.message
          : "The assistant could not be reached. Your question is still in the box: check your connection and try again.", true);
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
      if (offerRetry) this.retry.appendChild(el("button", {type: "button", class: "plain", onclick: function () { self.send(); }}, ["Try again"]));
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
