/* Carat support widget: <script src="https://HOST/widget.js" data-title="..." data-color="#4f46e5"
   data-position="right|left" data-lang="en|ko" data-plan data-billing data-signup-date
   data-profile-sig data-profile-expires></script>
   Everything is built with DOM calls and textContent: no text from the network becomes HTML. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.customElements || customElements.get("carat-support-widget")) return;

  var STYLE = __CARAT_CSS__;
  var CONFIG = JSON.parse(__CARAT_CONFIG__);
  var BASE = script.src.replace(/\/widget\.js(?:[?#].*)?$/, "");
  var API_ORIGIN = new URL(BASE, location.href).origin;
  var STORE_KEY = "carat-support:" + BASE;
  var SVG_NS = "http://www.w3.org/2000/svg";
  var ICONS = {
    chat: ["M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z"],
    close: ["M6 6l12 12", "M18 6L6 18"],
    send: ["M4 12l16-8-6 16-3-7-7-1z"],
    reset: ["M4 4v6h6", "M5.6 15a7 7 0 1 0 1.7-7.3L4 10"],
    up: ["M7 11v9H4v-9h3z", "M7 11l4-7a2 2 0 0 1 3 2l-1 4h5a2 2 0 0 1 2 2.3l-1.3 6A2 2 0 0 1 16.7 20H7"],
    down: ["M7 13V4H4v9h3z", "M7 13l4 7a2 2 0 0 0 3-2l-1-4h5a2 2 0 0 0 2-2.3l-1.3-6A2 2 0 0 0 16.7 4H7"]
  };
  var TEXT = {
    en: {
      title: "Carat support", open: "Open support chat", close: "Close chat", reset: "New conversation",
      hello: "Hi! Ask about credits, plans, or which models are unlimited for you.",
      label: "Your message", placeholder: "Type your question", send: "Send", sources: "Sources",
      helpful: "Helpful", unhelpful: "Not helpful", thanks: "Thanks for the feedback.",
      handoff: "Talk to a person: contact Carat support", ref: "and quote conversation reference",
      contact: "Contact Carat support",
      blocked: "This website ({origin}) is not allowed to use Carat support chat.",
      offline: "Could not reach Carat support. Check your connection and try again.",
      failed: "Something went wrong. Please try again."
    },
    ko: {
      title: "Carat 고객지원", open: "고객지원 채팅 열기", close: "채팅 닫기", reset: "새 대화",
      hello: "안녕하세요! 크레딧, 요금제, 무제한 모델에 대해 물어보세요.",
      label: "메시지", placeholder: "질문을 입력하세요", send: "보내기", sources: "출처",
      helpful: "도움이 됐어요", unhelpful: "도움이 안 됐어요", thanks: "의견 감사합니다.",
      handoff: "상담원 연결: Carat 고객지원에 문의하세요", ref: "대화 번호",
      contact: "Carat 고객지원 문의",
      blocked: "이 웹사이트({origin})에서는 Carat 고객지원 채팅을 사용할 수 없습니다.",
      offline: "Carat 고객지원에 연결할 수 없습니다. 연결을 확인하고 다시 시도해 주세요.",
      failed: "문제가 발생했습니다. 다시 시도해 주세요."
    }
  };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text;
    return node;
  }
  function icon(name) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    ICONS[name].forEach(function (d) {
      var path = document.createElementNS(SVG_NS, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    });
    return svg;
  }
  function safeUrl(url) {
    try {
      var u = new URL(url, location.href);
      return u.protocol === "https:" || u.protocol === "http:" || u.protocol === "mailto:" ? u.href : null;
    } catch (e) { return null; }
  }
  function link(text, url) {
    var href = safeUrl(url);
    if (!href) return document.createTextNode(text);
    var a = el("a", { href: href, target: "_blank", rel: "noopener noreferrer" }, text);
    return a;
  }

  /* Inline markdown: **bold**, `code`, [text](url), bare https:// links; everything else is text. */
  var INLINE = /\*\*([^*]+)\*\*|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s)<>]+)/g;
  function inline(parent, text) {
    var last = 0, m;
    INLINE.lastIndex = 0;
    while ((m = INLINE.exec(text))) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      if (m[1] != null) parent.appendChild(el("strong", null, m[1]));
      else if (m[2] != null) parent.appendChild(el("code", null, m[2]));
      else if (m[3] != null) parent.appendChild(link(m[3], m[4]));
      else parent.appendChild(link(m[5], m[5]));
      last = INLINE.lastIndex;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }
  /* Block markdown: paragraphs, "- " and "1. " lists. */
  function markdown(parent, text) {
    parent.textContent = "";
    var list = null, para = null;
    text.split("\n").forEach(function (line) {
      var bullet = /^\s*[-*]\s+(.*)$/.exec(line), numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
      if (bullet || numbered) {
        var kind = bullet ? "ul" : "ol";
        if (!list || list.tagName.toLowerCase() !== kind) { list = el(kind); parent.appendChild(list); }
        var li = el("li");
        inline(li, (bullet || numbered)[1]);
        list.appendChild(li);
        para = null;
      } else if (!line.trim()) {
        list = null; para = null;
      } else {
        list = null;
        if (para) para.appendChild(el("br")); else { para = el("p"); parent.appendChild(para); }
        inline(para, line);
      }
    });
  }

  function load() {
    try { return JSON.parse(sessionStorage.getItem(STORE_KEY)) || {}; } catch (e) { return {}; }
  }

  class CaratSupportWidget extends HTMLElement {
    constructor() {
      super();
      var lang = (script.dataset.lang || document.documentElement.lang || "en").slice(0, 2).toLowerCase();
      this.uiLang = TEXT[lang] ? lang : "en";
      this.t = TEXT[this.uiLang];
      this.state = Object.assign({ session_id: null, messages: [], open: false }, load());
      this.profile = {
        plan: script.dataset.plan || null, billing: script.dataset.billing || null,
        signup_date: script.dataset.signupDate || null,
        sig: script.dataset.profileSig || null,
        expires: script.dataset.profileExpires ? parseInt(script.dataset.profileExpires, 10) : null
      };
      this.busy = false;
      this.root = this.attachShadow({ mode: "open" });
    }

    /* Built on connection: a constructor may not set attributes (the accent colour is one). */
    connectedCallback() {
      if (this.built) return;
      this.built = true;
      this.build();
    }

    build() {
      var t = this.t, self = this;
      var color = script.dataset.color;
      if (color && window.CSS && window.CSS.supports("color", color)) this.style.setProperty("--accent", color);
      var style = el("style");
      style.textContent = STYLE;
      var wrap = el("div", { class: "wrap" + (script.dataset.position === "left" ? " left" : "") });
      this.launcher = el("button", { type: "button", class: "launcher", "aria-label": t.open,
        "aria-expanded": "false", "aria-controls": "carat-panel", "data-testid": "launcher" });
      this.launcher.appendChild(icon("chat"));
      this.panel = el("div", { id: "carat-panel", class: "panel", role: "dialog", "aria-modal": "true",
        "aria-labelledby": "carat-title", "data-testid": "panel" });
      this.panel.hidden = true;
      var header = el("header");
      header.appendChild(el("h2", { id: "carat-title" }, script.dataset.title || t.title));
      var reset = el("button", { type: "button", class: "icon", "aria-label": t.reset, title: t.reset });
      reset.appendChild(icon("reset"));
      var close = el("button", { type: "button", class: "icon", "aria-label": t.close, title: t.close });
      close.appendChild(icon("close"));
      header.append(reset, close);
      this.log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
        "data-testid": "log" });
      var form = el("form");
      this.input = el("textarea", { rows: "1", "aria-label": t.label, placeholder: t.placeholder,
        maxlength: String(CONFIG.maxChars), "data-testid": "input" });
      this.sendButton = el("button", { type: "submit", class: "send", "aria-label": t.send, "data-testid": "send" });
      this.sendButton.appendChild(icon("send"));
      form.append(this.input, this.sendButton);
      this.panel.append(header, this.log, form);
      wrap.append(this.launcher, this.panel);
      this.root.append(style, wrap);

      this.launcher.addEventListener("click", function () { self.toggle(); });
      close.addEventListener("click", function () { self.setOpen(false); });
      reset.addEventListener("click", function () { self.reset(); });
      form.addEventListener("submit", function (e) { e.preventDefault(); self.send(self.input.value); });
      this.input.addEventListener("keydown", function (e) {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); self.send(self.input.value); }
      });
      this.panel.addEventListener("keydown", function (e) { self.onKey(e); });
      this.renderAll();
      if (this.state.open) this.setOpen(true, true);
    }

    save() {
      try { sessionStorage.setItem(STORE_KEY, JSON.stringify(this.state)); } catch (e) { /* storage full or off */ }
    }

    toggle() { this.setOpen(this.panel.hidden); }

    setOpen(open, quiet) {
      this.panel.hidden = !open;
      this.launcher.setAttribute("aria-expanded", String(open));
      this.launcher.setAttribute("aria-label", open ? this.t.close : this.t.open);
      this.state.open = open;
      this.save();
      if (open) { if (!quiet) this.input.focus(); this.log.scrollTop = this.log.scrollHeight; }
      else if (!quiet) this.launcher.focus();
    }

    /* Escape closes; Tab cycles inside the open panel (focus trap). */
    onKey(e) {
      if (e.key === "Escape") { e.preventDefault(); this.setOpen(false); return; }
      if (e.key !== "Tab") return;
      var items = Array.prototype.filter.call(
        this.panel.querySelectorAll("button, textarea, a[href], summary"),
        function (n) { return !n.disabled && n.getClientRects().length > 0; });
      if (!items.length) return;
      var first = items[0], last = items[items.length - 1], active = this.root.activeElement;
      if (e.shiftKey && active === first) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && active === last) { e.preventDefault(); first.focus(); }
    }

    reset() {
      this.state.session_id = null;
      this.state.messages = [];
      this.save();
      this.renderAll();
      this.input.focus();
    }

    renderAll() {
      this.log.textContent = "";
      this.log.appendChild(el("p", { class: "hello" }, this.t.hello));
      var self = this;
      this.state.messages.forEach(function (m) { self.log.appendChild(self.bubble(m)); });
    }

    bubble(m) {
      var node = el("div", { class: "msg " + m.role, "data-testid": "msg-" + m.role });
      if (m.language) node.setAttribute("lang", m.language);
      if (m.role === "bot") markdown(node, m.text || ""); else node.textContent = m.text;
      if (m.role === "bot" && m.sources && m.sources.length) node.appendChild(this.sources(m.sources));
      if (m.role === "bot" && m.route === "handoff") node.appendChild(this.handoff());
      if (m.role === "bot" && m.turn_id) node.appendChild(this.feedback(m));
      return node;
    }

    sources(list) {
      var details = el("details", { "data-testid": "sources" });
      details.appendChild(el("summary", null, this.t.sources + " (" + list.length + ")"));
      var ul = el("ul");
      list.forEach(function (s) {
        var li = el("li");
        var label = s.section && s.section !== s.title ? s.title + " - " + s.section : s.title;
        li.appendChild(link(label, s.url));
        ul.appendChild(li);
      });
      details.appendChild(ul);
      return details;
    }

    handoff() {
      var box = el("div", { class: "handoff", "data-testid": "handoff" });
      if (CONFIG.supportUrl) box.appendChild(link(this.t.contact, CONFIG.supportUrl));
      else box.textContent = this.t.handoff + " (" + this.t.ref + " " + (this.state.session_id || "") + ").";
      return box;
    }

    feedback(m) {
      var t = this.t, self = this, box = el("div", { class: "tools" });
      [["up", t.helpful], ["down", t.unhelpful]].forEach(function (pair) {
        var b = el("button", { type: "button", "aria-label": pair[1], title: pair[1],
          "aria-pressed": String(m.rating === pair[0]) });
        b.appendChild(icon(pair[0]));
        b.addEventListener("click", function () { self.rate(m, pair[0], box); });
        box.appendChild(b);
      });
      return box;
    }

    rate(m, rating, box) {
      m.rating = rating;
      this.save();
      Array.prototype.forEach.call(box.querySelectorAll("button"), function (b, i) {
        b.setAttribute("aria-pressed", String((i === 0 ? "up" : "down") === rating));
      });
      fetch(BASE + "/api/feedback", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ session_id: this.state.session_id, turn_id: m.turn_id, rating: rating }) })
        .catch(function () { /* feedback is best effort */ });
    }

    showError(text) {
      var node = el("div", { class: "msg error", role: "alert", "data-testid": "error" }, text);
      this.log.appendChild(node);
      this.log.scrollTop = this.log.scrollHeight;
    }

    originAllowed() {
      return CONFIG.anyOrigin || location.origin === API_ORIGIN || CONFIG.origins.indexOf(location.origin) >= 0;
    }

    body(message) {
      var p = this.profile, payload = { message: message };
      if (this.state.session_id) payload.session_id = this.state.session_id;
      if (p.plan || p.billing || p.signup_date) {
        payload.profile = {};
        ["plan", "billing", "signup_date"].forEach(function (k) { if (p[k]) payload.profile[k] = p[k]; });
        if (p.sig) payload.profile_sig = p.sig;
        if (p.expires != null && !isNaN(p.expires)) payload.profile_expires = p.expires;
      }
      return JSON.stringify(payload);
    }

    async send(raw) {
      var message = (raw || "").trim();
      if (!message || this.busy) return;
      this.busy = true;
      this.sendButton.disabled = true;
      this.input.value = "";
      var user = { role: "user", text: message };
      this.state.messages.push(user);
      this.log.appendChild(this.bubble(user));
      var live = el("div", { class: "msg bot", "aria-busy": "true", "data-testid": "msg-bot" });
      this.log.appendChild(live);
      this.save();
      var text = "";
      try {
        var res = await fetch(BASE + "/api/chat/stream", { method: "POST",
          headers: { "Content-Type": "application/json", "Accept": "text/event-stream" }, body: this.body(message) });
        if (!res.ok || !res.body) {
          var err = null;
          try { err = (await res.json()).error; } catch (e) { /* not JSON */ }
          throw { shown: (err && err.message) || this.t.failed };
        }
        var reader = res.body.getReader(), decoder = new TextDecoder(), buffer = "", final = null;
        for (;;) {
          var chunk = await reader.read();
          if (chunk.done) break;
          buffer += decoder.decode(chunk.value, { stream: true });
          var parts = buffer.split("\n\n");
          buffer = parts.pop();
          for (var i = 0; i < parts.length; i++) {
            var ev = parseEvent(parts[i]);
            if (!ev) continue;
            if (ev.event === "token") { text += ev.data.text || ""; markdown(live, text); }
            else if (ev.event === "final") final = ev.data;
            else if (ev.event === "error") throw { shown: (ev.data.error && ev.data.error.message) || this.t.failed };
            this.log.scrollTop = this.log.scrollHeight;
          }
        }
        if (!final) throw { shown: this.t.failed };
        this.state.session_id = final.session_id || this.state.session_id;
        var m = { role: "bot", text: final.answer, sources: final.sources || [], route: final.route,
          turn_id: final.turn_id, language: final.language };
        this.state.messages.push(m);
        live.replaceWith(this.bubble(m));
      } catch (e) {
        live.remove();
        var blocked = e instanceof TypeError && !this.originAllowed();
        this.showError(e && e.shown ? e.shown
          : blocked ? this.t.blocked.replace("{origin}", location.origin) : this.t.offline);
      } finally {
        this.busy = false;
        this.sendButton.disabled = false;
        this.save();
        this.log.scrollTop = this.log.scrollHeight;
      }
    }
  }

  function parseEvent(block) {
    var name = "message", data = [];
    block.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) name = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
    });
    if (!data.length) return null;
    try { return { event: name, data: JSON.parse(data.join("\n")) }; } catch (e) { return null; }
  }

  customElements.define("carat-support-widget", CaratSupportWidget);
  var widget = null;
  function mount() {
    widget = document.createElement("carat-support-widget");
    document.body.appendChild(widget);
    window.dispatchEvent(new Event("carat-support-ready"));
  }
  window.CaratSupport = {
    open: function () { widget.setOpen(true); },
    close: function () { widget.setOpen(false); },
    /* Pass the signed-in customer's profile: {plan, billing, signup_date, sig, expires}. */
    setProfile: function (p) {
      p = p || {};
      widget.profile = { plan: p.plan || null, billing: p.billing || null, signup_date: p.signup_date || null,
        sig: p.sig || null, expires: p.expires != null ? Number(p.expires) : null };
    },
    reset: function () { widget.reset(); }
  };
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
