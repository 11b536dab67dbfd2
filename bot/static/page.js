/* The chat page's own behaviour on top of Gradio: instant echo with a typing indicator, suggestions that send,
   plain-text copy and text accessible names, the conversation kept for the tab, the profile panel link. */
(function () {
  "use strict";
  if (window.caratPage) return;
  var STORE_KEY = "carat-support-page:v1";
  var MAX_SNAPSHOT_BYTES = 48000; /* the page's requests are capped at 64 KB */
  var busy = false;

  function escapeHtml(text) {
    var div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }
  function message(role, html) {
    return { role: role, metadata: null, options: null, content: [{ type: "text", text: html }] };
  }
  var TYPING = document.documentElement.lang === "ko" ? "답변을 준비하고 있어요" : "Carat support is typing";
  function typingHtml() {
    return '<div class="typing"><span class="dot"></span><span class="dot"></span><span class="dot"></span>'
      + '<span class="said">' + TYPING + "</span></div>";
  }

  /* Plain text of sanitised answer HTML: paragraphs and list items on their own lines, links with their address. */
  function plainText(html) {
    var doc = new DOMParser().parseFromString("<div>" + html + "</div>", "text/html");
    var root = doc.body.firstChild;
    root.querySelectorAll(".typing, .to-profile").forEach(function (n) { n.remove(); });
    root.querySelectorAll("a[href^='http'], a[href^='mailto:']").forEach(function (a) {
      var href = a.getAttribute("href").replace(/^mailto:/, "");
      if (a.textContent.trim() && a.textContent.indexOf(href) < 0 && !/^\[\d+\]$/.test(a.textContent.trim())) {
        a.textContent = a.textContent + " (" + href + ")";
      }
    });
    root.querySelectorAll("summary").forEach(function (n) { n.textContent = n.textContent + ":"; });
    root.querySelectorAll("li").forEach(function (n) { n.insertBefore(doc.createTextNode("- "), n.firstChild); });
    root.querySelectorAll("p, li, summary, br, h3, h4, tr, div, details").forEach(function (n) {
      n.appendChild(doc.createTextNode("\n"));
    });
    return root.textContent.replace(/[ \t]+\n/g, "\n").replace(/\n{3,}/g, "\n\n").trim();
  }
  function looksLikeHtml(text) { return /^\s*<(div|p|details|ul|ol)[\s>]/i.test(text || ""); }

  /* Gradio's copy button copies a message's raw content, which is HTML here: hand the clipboard plain text. */
  if (navigator.clipboard && navigator.clipboard.writeText) {
    var write = navigator.clipboard.writeText.bind(navigator.clipboard);
    navigator.clipboard.writeText = function (text) { return write(looksLikeHtml(text) ? plainText(text) : text); };
  }

  /* Each message's accessible name is its text, not its HTML (Gradio labels it with the raw content). */
  function fixLabels(root) {
    (root || document).querySelectorAll("#chat [data-testid=user], #chat [data-testid=bot]").forEach(function (n) {
      var label = n.getAttribute("aria-label") || "";
      if (label.indexOf("<") < 0) return;
      var who = n.getAttribute("data-testid") === "user" ? "You" : "Carat support";
      n.setAttribute("aria-label", who + ": " + plainText(label.replace(/^[^<]*/, "")).slice(0, 500));
    });
  }
  var pending = false;
  new MutationObserver(function () {
    if (pending) return;  /* once per frame, however many tokens arrived */
    pending = true;
    requestAnimationFrame(function () { pending = false; fixLabels(); });
  }).observe(document.documentElement,
    { subtree: true, childList: true, attributes: true, attributeFilter: ["aria-label"] });

  /* "Set your plan" in a clarifying answer: bring the subscription panel into view and focus it. */
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a.to-profile");
    if (!link) return;
    e.preventDefault();
    var panel = document.getElementById("profile");
    if (!panel) return;
    panel.scrollIntoView({ behavior: "smooth", block: "start" });
    var first = panel.querySelector("input:checked, input");
    if (first) first.focus({ preventScroll: true });
  }, true);

  window.caratPage = {
    /* Echo the question at once with a typing indicator; the server's answer replaces both. */
    echo: function (text, history) {
      var question = (text || "").trim();
      if (!question || busy) return [null, history, text];
      busy = true;
      document.documentElement.dataset.answering = "1";
      var lang = /[\uac00-\ud7a3]/.test(question) ? "ko" : "en";
      var html = '<div lang="' + lang + '"><p>' + escapeHtml(question).replace(/\n/g, "<br>") + "</p></div>";
      return [question, (history || []).concat([message("user", html), message("assistant", typingHtml())]), ""];
    },
    done: function () { busy = false; document.documentElement.dataset.answering = "0"; },
    /* A suggestion sends itself, the same way as a typed question. */
    ask: function (text) {
      var box = document.querySelector("#message textarea");
      var send = document.querySelector("#send");
      if (!box || !send || busy) return;
      box.value = text;
      box.dispatchEvent(new Event("input", { bubbles: true }));
      setTimeout(function () { send.click(); }, 0);
    },
    /* Keep the conversation for this tab, so a reload shows it again. */
    save: function (snapshot) {
      try {
        if (!snapshot) { sessionStorage.removeItem(STORE_KEY); return; }
        var data = JSON.parse(snapshot);
        while (data.messages && data.messages.length > 2
               && new Blob([JSON.stringify(data)]).size > MAX_SNAPSHOT_BYTES) {
          data.messages.splice(0, 2);
        }
        sessionStorage.setItem(STORE_KEY, JSON.stringify(data));
      } catch (e) { /* storage full or off: the conversation just won't survive a reload */ }
    },
    restore: function () {
      try { return sessionStorage.getItem(STORE_KEY) || ""; } catch (e) { return ""; }
    },
    plainText: plainText
  };
})();
