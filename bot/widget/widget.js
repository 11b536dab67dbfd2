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
    copy: ["M9 9h11v11H9z", "M5 15H4V4h11v1"],
    check: ["M5 12l5 5 9-10"],
    up: ["M7 11v9H4v-9h3z", "M7 11l4-7a2 2 0 0 1 3 2l-1 4h5a2 2 0 0 1 2 2.3l-1.3 6A2 2 0 0 1 16.7 20H7"],
    down: ["M7 13V4H4v9h3z", "M7 13l4 7a2 2 0 0 0 3-2l-1-4h5a2 2 0 0 0 2-2.3l-1.3-6A2 2 0 0 0 16.7 4H7"]
  };
  var TEXT = {
    en: {
      title: "Carat support", open: "Open support chat", close: "Close chat", reset: "New conversation",
      hello: "Hi! Ask about credits, plans, or which models are unlimited for you.", suggestions: "Suggested questions",
      label: "Your message", placeholder: "Type your question", send: "Send", sources: "Sources",
      helpful: "Helpful", unhelpful: "Not helpful", copy: "Copy answer", copied: "Copied",
      unread: "{n} new message(s)", typing: "Carat support is typing",
      email: "Your e-mail", consent: "Send this conversation, my plan details and my e-mail to Carat support",
      toSupport: "Send to Carat support", person: "Talk to a person",
      offline: "Could not reach Carat support. Check your connection and try again.",
      failed: "Something went wrong. Please try again."
    },
    ko: {
      title: "Carat 고객지원", open: "고객지원 채팅 열기", close: "채팅 닫기", reset: "새 대화",
      hello: "안녕하세요! 크레딧, 요금제, 무제한 모델에 대해 물어보세요.", suggestions: "추천 질문",
      label: "메시지", placeholder: "질문을 입력하세요", send: "보내기", sources: "출처",
      helpful: "도움이 됐어요", unhelpful: "도움이 안 됐어요", copy: "답변 복사", copied: "복사했습니다",
      unread: "새 메시지 {n}개", typing: "답변을 준비하고 있어요",
      email: "이메일 주소", consent: "이 대화, 플랜 정보, 이메일 주소를 Carat 고객지원에 보냅니다",
      toSupport: "Carat 고객지원에 보내기", person: "담당자 연결",
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
  function iconButton(name, label, attrs) {
    var b = el("button", Object.assign({ type: "button", "aria-label": label, title: label }, attrs || {}));
    b.appendChild(icon(name));
    return b;
  }

__CARAT_MARKDOWN__

  function load() {
    try { return JSON.parse(sessionStorage.getItem(STORE_KEY)) || {}; } catch (e) { return {}; }
  }
  function originAllowed() {
    return CONFIG.anyOrigin || location.origin === API_ORIGIN || CONFIG.origins.indexOf(location.origin) >= 0;
  }

  class CaratSupportWidget extends HTMLElement {
    constructor() {
      super();
      var lang = (script.dataset.lang || document.documentElement.lang || "en").slice(0, 2).toLowerCase();
      this.uiLang = TEXT[lang] ? lang : "en";
      this.t = TEXT[this.uiLang];
      this.state = Object.assign({ session_id: null, messages: [], open: false, unread: 0 }, load());
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
      this.launcher.append(icon("chat"), icon("close"));
      this.badge = el("span", { class: "badge", "aria-hidden": "true", "data-testid": "badge" });
      this.badge.hidden = true;
      this.launcher.appendChild(this.badge);
      this.panel = el("div", { id: "carat-panel", class: "panel", role: "dialog", "aria-modal": "true",
        "aria-labelledby": "carat-title", "data-testid": "panel" });
      this.panel.hidden = true;
      var header = el("header");
      header.appendChild(el("h2", { id: "carat-title" }, script.dataset.title || t.title));
      var reset = iconButton("reset", t.reset, { class: "icon" });
      var close = iconButton("close", t.close, { class: "icon" });
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
      this.showUnread();
      if (this.state.open) this.setOpen(true, true);
    }

    save() {
      try { sessionStorage.setItem(STORE_KEY, JSON.stringify(this.state)); } catch (e) { /* storage full or off */ }
    }

    toggle() { this.setOpen(this.panel.hidden); }

    /* The launcher turns into a close button while the panel is open. */
    setOpen(open, quiet) {
      this.panel.hidden = !open;
      this.launcher.classList.toggle("open", open);
      this.launcher.setAttribute("aria-expanded", String(open));
      this.state.open = open;
      if (open) this.state.unread = 0;
      this.showUnread();
      this.save();
      if (open) { if (!quiet) this.input.focus(); this.log.scrollTop = this.log.scrollHeight; }
      else if (!quiet) this.launcher.focus();
    }

    /* An answer that arrived while the panel was closed shows as a count on the launcher. */
    showUnread() {
      var n = this.state.open ? 0 : this.state.unread || 0;
      this.badge.hidden = !n;
      this.badge.textContent = n > 9 ? "9+" : String(n);
      var label = this.state.open ? this.t.close : this.t.open;
      this.launcher.setAttribute("aria-label", n ? label + " (" + this.t.unread.replace("{n}", n) + ")" : label);
    }

    /* Escape closes; Tab cycles inside the open panel (focus trap). */
    onKey(e) {
      if (e.key === "Escape") { e.preventDefault(); this.setOpen(false); return; }
      if (e.key !== "Tab") return;
      var items = Array.prototype.filter.call(
        this.panel.querySelectorAll("button, textarea, input, a[href], summary"),
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
      if (!this.state.messages.length) this.log.appendChild(this.suggestions());
    }

    /* A few questions to start with, in the widget's language (SUGGESTED_QUESTIONS). */
    suggestions() {
      var self = this, questions = (CONFIG.suggestions || {})[this.uiLang] || [];
      var box = el("div", { class: "suggestions", role: "group", "aria-label": this.t.suggestions,
        "data-testid": "suggestions" });
      questions.forEach(function (q) {
        var b = el("button", { type: "button", class: "suggestion" }, q);
        b.addEventListener("click", function () { self.send(q); });
        box.appendChild(b);
      });
      return box;
    }

    bubble(m) {
      var node = el("div", { class: "msg " + m.role, "data-testid": "msg-" + m.role });
      if (m.language) node.setAttribute("lang", m.language);
      var body = el("div", { class: "body" });
      if (m.role === "bot") markdown(body, m.text || "", m.sources); else body.textContent = m.text;
      node.appendChild(body);
      if (m.role === "bot" && m.sources && m.sources.length) node.appendChild(this.sources(m.sources));
      if (m.role === "bot" && m.form) node.appendChild(this.handoffForm(m));
      if (m.role === "bot" && m.turn_id) node.appendChild(this.tools(m, body));
      return node;
    }

    sources(list) {
      var details = el("details", { "data-testid": "sources" });
      details.appendChild(el("summary", null, this.t.sources + " (" + list.length + ")"));
      var ol = el("ol");
      list.forEach(function (s) {
        var li = el("li");
        var label = s.section && s.section !== s.title ? s.title + " - " + s.section : s.title;
        li.appendChild(link(label, s.url));
        ol.appendChild(li);
      });
      details.appendChild(ol);
      return details;
    }

    /* When the support desk can be reached from here: the reply address, consent, and send. */
    handoffForm(m) {
      var t = this.t, self = this;
      var form = el("form", { class: "handoff", "data-testid": "handoff" });
      form.appendChild(el("strong", null, t.person));
      var email = el("input", { type: "email", required: "", autocomplete: "email", "aria-label": t.email,
        placeholder: t.email, maxlength: "254", "data-testid": "handoff-email" });
      var label = el("label", { class: "consent" });
      var consent = el("input", { type: "checkbox", required: "", "data-testid": "handoff-consent" });
      label.append(consent, document.createTextNode(" " + t.consent));
      var send = el("button", { type: "submit", class: "primary", "data-testid": "handoff-send" }, t.toSupport);
      form.append(email, label, send);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        self.handoff(m, email.value, consent.checked, send);
      });
      return form;
    }

    async handoff(m, email, consent, button) {
      button.disabled = true;
      try {
        var res = await fetch(BASE + "/api/handoff", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ session_id: this.state.session_id, email: email.trim(), consent: consent }) });
        var data = await res.json();
        if (!res.ok) { this.showError((data.error && data.error.message) || this.t.failed); return; }
        m.form = false;
        this.addBot({ role: "bot", text: data.message, language: m.language });
        this.renderAll();
      } catch (e) {
        this.showError(this.t.offline);
      } finally {
        button.disabled = false;
        this.save();
      }
    }

    tools(m, body) {
      var t = this.t, self = this, box = el("div", { class: "tools" });
      var copy = iconButton("copy", t.copy, { "data-testid": "copy" });
      copy.addEventListener("click", function () { self.copy(body, copy); });
      box.appendChild(copy);
      [["up", t.helpful], ["down", t.unhelpful]].forEach(function (pair) {
        var b = iconButton(pair[0], pair[1], { "aria-pressed": String(m.rating === pair[0]) });
        b.addEventListener("click", function () { self.rate(m, pair[0], box); });
        box.appendChild(b);
      });
      return box;
    }

    /* The answer as the customer reads it: plain text, without the buttons or the sources list. */
    copy(body, button) {
      var t = this.t;
      var done = function () {
        button.replaceChildren(icon("check"));
        button.setAttribute("aria-label", t.copied);
        setTimeout(function () { button.replaceChildren(icon("copy")); button.setAttribute("aria-label", t.copy); }, 1500);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(body.innerText.trim()).then(done, function () { /* clipboard refused */ });
      }
    }

    rate(m, rating, box) {
      var self = this;
      m.rating = rating;
      this.save();
      Array.prototype.forEach.call(box.querySelectorAll("button[aria-pressed]"), function (b, i) {
        b.setAttribute("aria-pressed", String((i === 0 ? "up" : "down") === rating));
      });
      fetch(BASE + "/api/feedback", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ session_id: this.state.session_id, turn_id: m.turn_id, rating: rating }) })
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (data) {
          /* A second thumbs-down offers a person. */
          if (data && data.message) {
            self.addBot({ role: "bot", text: data.message, language: m.language,
              form: !!(data.handoff && data.handoff.desk && data.handoff.status === "offered") });
            self.renderAll();
            self.save();
          }
        })
        .catch(function () { /* feedback is best effort */ });
    }

    addBot(m) {
      this.state.messages.push(m);
      if (this.panel.hidden) { this.state.unread = (this.state.unread || 0) + 1; this.showUnread(); }
    }

    showError(text) {
      var node = el("div", { class: "msg error", role: "alert", "data-testid": "error" }, text);
      this.log.appendChild(node);
      this.log.scrollTop = this.log.scrollHeight;
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
      var hint = this.log.querySelector(".suggestions");
      if (hint) hint.remove();
      this.log.appendChild(this.bubble(user));
      var live = el("div", { class: "msg bot", "aria-busy": "true", "data-testid": "msg-bot" });
      var typing = el("div", { class: "typing", role: "status", "aria-label": this.t.typing });
      typing.append(el("span"), el("span"), el("span"));
      live.appendChild(typing);
      this.log.appendChild(live);
      this.log.scrollTop = this.log.scrollHeight;
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
        var h = final.handoff;
        var m = { role: "bot", text: final.answer, sources: final.sources || [], route: final.route,
          turn_id: final.turn_id, language: final.language,
          form: !!(h && h.desk && (h.status === "offered" || h.status === "email_needed")) };
        this.addBot(m);
        live.replaceWith(this.bubble(m));
      } catch (e) {
        live.remove();
        this.showError(e && e.shown ? e.shown : this.t.offline);
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

  var widget = null;
  window.CaratSupport = {
    open: function () { if (widget) widget.setOpen(true); },
    close: function () { if (widget) widget.setOpen(false); },
    /* Pass the signed-in customer's profile: {plan, billing, signup_date, sig, expires}. */
    setProfile: function (p) {
      p = p || {};
      if (widget) widget.profile = { plan: p.plan || null, billing: p.billing || null, signup_date: p.signup_date || null,
        sig: p.sig || null, expires: p.expires != null ? Number(p.expires) : null };
    },
    reset: function () { if (widget) widget.reset(); }
  };
  /* A site that is not on the allow-list gets no chat button at all: visitors see nothing, the owner a console note. */
  if (!originAllowed()) {
    console.error("Carat support widget: this site (" + location.origin + ") is not allowed to use the chat served by "
      + API_ORIGIN + ", so the chat button is not shown. Add " + location.origin
      + " to ALLOWED_ORIGINS on that server to enable it.");
    return;
  }
  customElements.define("carat-support-widget", CaratSupportWidget);
  function mount() {
    widget = document.createElement("carat-support-widget");
    document.body.appendChild(widget);
    window.dispatchEvent(new Event("carat-support-ready"));
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
