  /* Markdown for the widget, built with DOM calls and textContent only: no text from the network becomes HTML. */
  function safeUrl(url) {
    try {
      var u = new URL(url, location.href);
      return u.protocol === "https:" || u.protocol === "http:" || u.protocol === "mailto:" ? u.href : null;
    } catch (e) { return null; }
  }
  function link(text, url, cls) {
    var href = safeUrl(url);
    if (!href) return document.createTextNode(text);
    var a = el("a", { href: href, target: "_blank", rel: "noopener noreferrer" }, text);
    if (cls) a.className = cls;
    return a;
  }

  /* Inline: **bold**, `code`, [text](url), [n] citations of the answer's sources, bare links (www. and https://). */
  var INLINE = /\*\*([^*]+)\*\*|`([^`]+)`|\[([^\]]+)\]\(<?([^)\s>]+)>?\)|\[(\d{1,2})\](?![(\[])|((?:https?:\/\/|www\.)[^\s<>]+)/g;
  function inline(parent, text, sources) {
    var last = 0, m;
    INLINE.lastIndex = 0;
    while ((m = INLINE.exec(text))) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      var end = INLINE.lastIndex;
      if (m[1] != null) parent.appendChild(el("strong", null, m[1]));
      else if (m[2] != null) parent.appendChild(el("code", null, m[2]));
      else if (m[3] != null) parent.appendChild(link(m[3], m[4]));
      else if (m[5] != null) {
        var source = (sources || [])[parseInt(m[5], 10) - 1];
        parent.appendChild(source ? link("[" + m[5] + "]", source.url, "cite") : document.createTextNode(m[0]));
      } else {
        /* A sentence's full stop or closing bracket is not part of the address. */
        var url = m[6].replace(/[.,;:!?)\]]+$/, "");
        end = m.index + url.length;
        parent.appendChild(link(url, /^www\./.test(url) ? "https://" + url : url));
      }
      last = end;
      INLINE.lastIndex = end;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }
  /* Blocks: paragraphs, "- " and "1. " lists. */
  function markdown(parent, text, sources) {
    parent.textContent = "";
    var list = null, para = null;
    text.split("\n").forEach(function (line) {
      var bullet = /^\s*[-*]\s+(.*)$/.exec(line), numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
      if (bullet || numbered) {
        var kind = bullet ? "ul" : "ol";
        if (!list || list.tagName.toLowerCase() !== kind) { list = el(kind); parent.appendChild(list); }
        var li = el("li");
        inline(li, (bullet || numbered)[1], sources);
        list.appendChild(li);
        para = null;
      } else if (!line.trim()) {
        list = null; para = null;
      } else {
        list = null;
        if (para) para.appendChild(el("br")); else { para = el("p"); parent.appendChild(para); }
        inline(para, line, sources);
      }
    });
  }
