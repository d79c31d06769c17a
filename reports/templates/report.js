/* pgaudit-roles HTML report: filters (kept in the URL hash), severity cards, search,
   client-side pages, honest copy buttons, and the membership graph's search, zoom and
   highlight. Builds every element with createElement/textContent: data never becomes
   markup. */
(function () {
  "use strict";
  var dataEl = document.getElementById("report-data");
  var data = dataEl ? JSON.parse(dataEl.textContent) : { extra: {}, page: 100 };
  var extra = data.extra || {};
  var shown = {};
  var SEVERITIES = ["info", "low", "medium", "high", "critical"];

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  /* Same as the |ident filter: break chances after _ . / : , ( - and `code` spans */
  function ident(parent, text) {
    var ticks = String(text).split("`");
    if (ticks.length > 1 && ticks.length % 2 === 1) {
      ticks.forEach(function (p, i) { if (i % 2) { parent.appendChild(breakable(el("code"), p)); } else { breakable(parent, p); } });
      return parent;
    }
    return breakable(parent, text);
  }

  function breakable(parent, text) {
    var parts = String(text).split(/([_.\/:,(\-]+)/);
    parts.forEach(function (p) {
      if (!p) { return; }
      parent.appendChild(document.createTextNode(p));
      if (/^[_.\/:,(\-]+$/.test(p)) { parent.appendChild(document.createElement("wbr")); }
    });
    return parent;
  }

  /* Same as the |inline filter: `code` spans (the text is already reflowed). */
  function inline(parent, text) {
    var parts = String(text).split("`");
    if (parts.length % 2 === 0) { parent.appendChild(document.createTextNode(text)); return parent; }
    parts.forEach(function (p, i) {
      if (i % 2) { parent.appendChild(el("code", null, p)); } else if (p) { parent.appendChild(document.createTextNode(p)); }
    });
    return parent;
  }

  /* Same structure as the finding_row macro in _rule.html.j2. */
  function buildRow(c) {
    var fp = c[0], sev = c[1], rank = c[2], db = c[3], dbi = c[4], role = c[5], rolei = c[6],
        otype = c[7], obj = c[8], msg = c[9], sql = c[10], manual = c[11], destructive = c[12],
        state = c[13], search = c[14];
    var tr = el("tr", "finding " + state);
    tr.id = "f-" + fp;
    tr.dataset.rank = String(rank);
    tr.dataset.db = String(dbi);
    tr.dataset.role = String(rolei);
    tr.dataset.state = state;
    tr.dataset.search = search;
    var td1 = el("td", "sev");
    td1.appendChild(el("span", "badge " + sev, sev));
    if (state !== "active") { td1.appendChild(document.createTextNode(" ")); td1.appendChild(el("span", "state " + state, state)); }
    tr.appendChild(td1);
    var td2 = el("td", "where");
    var d = el("div");
    d.appendChild(el("span", "muted", otype));
    d.appendChild(document.createTextNode(" "));
    d.appendChild(ident(el("span", "obj"), obj));
    td2.appendChild(d);
    if (db !== null) { d = el("div"); d.appendChild(el("span", "muted", "db")); d.appendChild(document.createTextNode(" ")); ident(d, db); td2.appendChild(d); }
    if (role !== null && !(otype === "role" && obj === role)) { d = el("div"); d.appendChild(el("span", "muted", "role")); d.appendChild(document.createTextNode(" ")); d.appendChild(ident(el("span", "role"), role)); td2.appendChild(d); }
    tr.appendChild(td2);
    tr.appendChild(ident(el("td", "msg"), msg));
    var td4 = el("td", "fix");
    if (sql) {
      var box = el("div", "sql"), pre = el("pre"), code = el("code", null, sql);
      pre.appendChild(code); box.appendChild(pre);
      var b = el("button", "copy", "Copy"); b.type = "button"; b.setAttribute("aria-label", "Copy this SQL"); box.appendChild(b);
      td4.appendChild(box);
      if (destructive) { td4.appendChild(el("div", "warn", "destructive: review before running")); }
    }
    if (manual) { td4.appendChild(inline(el("div", "manual"), manual)); }
    tr.appendChild(td4);
    return tr;
  }

  function showMore(ruleId, all) {
    var rows = extra[ruleId] || [];
    var from = shown[ruleId] || 0;
    if (from >= rows.length) { return; }
    var art = document.querySelector('article.rule[data-rule="' + CSS.escape(ruleId) + '"]');
    if (!art) { return; }
    var tbody = art.querySelector("tbody");
    var to = all ? rows.length : Math.min(rows.length, from + (data.page || 100));
    var frag = document.createDocumentFragment();
    for (var i = from; i < to; i++) { frag.appendChild(buildRow(rows[i])); }
    tbody.appendChild(frag);
    shown[ruleId] = to;
    var btn = art.querySelector("button.show-more");
    if (btn) {
      if (to >= rows.length) { btn.parentNode.removeChild(btn); }
      else { btn.textContent = "Show more (" + (rows.length - to).toLocaleString() + " not yet shown)"; }
    }
  }

  function loadAll() {
    Object.keys(extra).forEach(function (id) { showMore(id, true); });
  }

  /* ---- filters, severity cards, URL hash ------------------------------------------ */
  var fSev = document.getElementById("f-sev"), fDb = document.getElementById("f-db"),
      fRole = document.getElementById("f-role"), fState = document.getElementById("f-state"),
      fQ = document.getElementById("f-q"), status = document.getElementById("f-status");
  var cards = Array.prototype.slice.call(document.querySelectorAll(".cards .card[data-sev]"));
  var exactSev = "";  /* a pressed severity card: only that severity */

  function val(x) { return x ? x.value : ""; }

  function optionText(sel) {
    return sel && sel.selectedIndex > 0 ? sel.options[sel.selectedIndex].textContent : "";
  }

  function selectByText(sel, text) {
    if (!sel) { return; }
    sel.value = "";
    for (var i = 1; i < sel.options.length; i++) {
      if (sel.options[i].textContent === text) { sel.selectedIndex = i; return; }
    }
  }

  var FILTER_PREFIX = "#filter?";

  function writeHash() {
    var p = new URLSearchParams();
    if (exactSev) { p.set("sev", exactSev); }
    if (val(fSev) !== "") { p.set("min", SEVERITIES[parseInt(fSev.value, 10)]); }
    if (val(fDb) !== "") { p.set("db", optionText(fDb)); }
    if (val(fRole) !== "") { p.set("role", optionText(fRole)); }
    if (val(fState) !== "") { p.set("state", fState.value); }
    if (val(fQ).trim() !== "") { p.set("q", fQ.value.trim()); }
    var s = p.toString();
    var cur = location.hash;
    var next = s ? FILTER_PREFIX + s : "";
    if (!s && cur.indexOf(FILTER_PREFIX) !== 0) { return; }  /* keep an anchor like #graph */
    if (cur === next) { return; }
    try { history.replaceState(null, "", next || (location.pathname + location.search)); }
    catch (e) { /* a browser that refuses: the filters still work */ }
  }

  function readHash() {
    if (location.hash.indexOf(FILTER_PREFIX) !== 0) { return false; }
    var p = new URLSearchParams(location.hash.slice(FILTER_PREFIX.length));
    exactSev = SEVERITIES.indexOf(p.get("sev") || "") >= 0 ? p.get("sev") : "";
    var min = SEVERITIES.indexOf(p.get("min") || "");
    if (fSev) { fSev.value = min >= 0 ? String(min) : ""; }
    selectByText(fDb, p.get("db") || "");
    selectByText(fRole, p.get("role") || "");
    if (fState) { fState.value = ["active", "baselined", "waived"].indexOf(p.get("state")) >= 0 ? p.get("state") : ""; }
    if (fQ) { fQ.value = p.get("q") || ""; }
    return true;
  }

  function apply() {
    var sev = val(fSev), db = val(fDb), role = val(fRole), state = val(fState),
        q = val(fQ).trim().toLowerCase();
    var exactRank = exactSev ? SEVERITIES.indexOf(exactSev) : -1;
    var active = sev !== "" || db !== "" || role !== "" || state !== "" || q !== "" || exactSev !== "";
    if (active) { loadAll(); }
    var minRank = sev === "" ? -1 : parseInt(sev, 10);
    var total = 0, visible = 0;
    document.querySelectorAll("article.rule").forEach(function (art) {
      var any = false;
      art.querySelectorAll("tr.finding").forEach(function (tr) {
        total++;
        var rank = parseInt(tr.dataset.rank, 10);
        var ok = rank >= minRank && (exactRank < 0 || rank === exactRank) &&
          (db === "" || tr.dataset.db === db) &&
          (role === "" || tr.dataset.role === role) &&
          (state === "" || tr.dataset.state === state) &&
          (q === "" || tr.dataset.search.indexOf(q) !== -1 || art.dataset.rule.toLowerCase().indexOf(q) !== -1);
        tr.hidden = !ok;
        if (ok) { visible++; any = true; }
      });
      art.hidden = active && !any;
    });
    document.querySelectorAll(".role-card").forEach(function (card) {
      var ok = (role === "" || card.dataset.role === role) &&
        (q === "" || (card.dataset.roleName || "").indexOf(q) !== -1);
      card.hidden = !ok;
    });
    cards.forEach(function (c) { c.setAttribute("aria-pressed", c.dataset.sev === exactSev ? "true" : "false"); });
    if (status) {
      status.textContent = (active ? "Filtered: " : "") + visible.toLocaleString() + " of " +
        (data.total_findings || total).toLocaleString() + " findings shown" +
        (exactSev ? " (severity " + exactSev + " only)" : "") +
        (active ? "." : ".");
    }
    writeHash();
  }

  [fSev, fDb, fRole, fState].forEach(function (x) {
    if (x) { x.addEventListener("change", function () { if (x === fSev) { exactSev = ""; } apply(); }); }
  });
  if (fQ) { fQ.addEventListener("input", apply); }
  var form = document.getElementById("filters");
  if (form) {
    form.addEventListener("submit", function (ev) { ev.preventDefault(); });
    form.addEventListener("reset", function () { exactSev = ""; setTimeout(apply, 0); });
  }
  cards.forEach(function (c) {
    c.addEventListener("click", function () {
      exactSev = exactSev === c.dataset.sev ? "" : c.dataset.sev;
      if (exactSev && fSev) { fSev.value = ""; }
      apply();
      if (exactSev) {
        var target = document.getElementById("findings");
        if (target && target.scrollIntoView) { target.scrollIntoView({ block: "start" }); }
      }
    });
  });
  window.addEventListener("hashchange", function () { if (readHash()) { apply(); } });

  /* ---- copy buttons: say what happened -------------------------------------------- */
  function flash(btn, text) {
    if (!btn.dataset.label) { btn.dataset.label = btn.textContent; }
    btn.textContent = text;
    clearTimeout(btn._t);
    btn._t = setTimeout(function () { btn.textContent = btn.dataset.label; }, 2000);
  }

  function copyText(text, btn, done) {
    function fallback() {
      var ta = el("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.className = "copy-buffer";
      document.body.appendChild(ta);
      ta.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(ta);
      flash(btn, ok ? done : "Copy failed: select the text");
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { flash(btn, done); }, fallback);
    } else { fallback(); }
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!(t instanceof Element)) { return; }
    if (t.matches("button.copy")) {
      var code = t.closest(".sql").querySelector("code");
      var text = code ? code.textContent : "";
      if (!text.trim()) { flash(t, "Nothing to copy"); return; }
      copyText(text, t, "Copied");
    } else if (t.matches("button.copy-all")) {
      var art = t.closest("article.rule");
      var parts = [];
      art.querySelectorAll("tr.finding").forEach(function (tr) {
        if (tr.hidden) { return; }
        var c = tr.querySelector(".sql code");
        if (c && c.textContent.trim()) { parts.push(c.textContent); }
      });
      if (!parts.length) { flash(t, "Nothing to copy: no shown finding has SQL"); return; }
      copyText(parts.join("\n"), t, "Copied SQL of " + parts.length + " finding" + (parts.length === 1 ? "" : "s"));
    } else if (t.matches("button.show-more")) {
      showMore(t.dataset.rule, false);
      apply();
    }
  });

  /* ---- the membership graph ------------------------------------------------------- */
  var svg = document.getElementById("role-graph");
  var g = data.graph;
  if (svg && g) {
    var nodes = [], up = [], down = [], edgesOf = [];
    svg.querySelectorAll("g.node").forEach(function (n) { nodes[parseInt(n.dataset.i, 10)] = n; });
    nodes.forEach(function (_, i) { up[i] = []; down[i] = []; edgesOf[i] = []; });
    var edges = Array.prototype.slice.call(svg.querySelectorAll("path.edge"));
    edges.forEach(function (p) {
      var m = parseInt(p.dataset.m, 10), gr = parseInt(p.dataset.g, 10);
      up[m].push([gr, p]); down[gr].push([m, p]); edgesOf[m].push(p); edgesOf[gr].push(p);
    });
    var panel = document.getElementById("g-panel"), gStatus = document.getElementById("g-status"),
        gq = document.getElementById("g-q"), view = document.getElementById("graph-view");
    var selected = -1;

    function clearMarks() {
      svg.classList.remove("dim");
      svg.querySelectorAll(".hl,.sel,.route,.member,.match").forEach(function (x) {
        x.classList.remove("hl", "sel", "route", "member", "match");
      });
      nodes.forEach(function (n) { n.setAttribute("aria-pressed", "false"); });
      edges.forEach(function (p) { p.setAttribute("marker-end", p.classList.contains("admin") ? "url(#arrow-admin)" : "url(#arrow)"); });
      document.querySelectorAll("li.route.lit").forEach(function (li) { li.classList.remove("lit"); });
      if (panel) { panel.hidden = true; panel.textContent = ""; }
      selected = -1;
    }

    function names(list) { return list.map(function (i) { return g.names[i]; }); }

    function select(i) {
      clearMarks();
      if (i < 0 || !nodes[i]) { return; }
      selected = i;
      svg.classList.add("dim");
      nodes[i].classList.add("sel");
      nodes[i].setAttribute("aria-pressed", "true");
      /* what it inherits or can SET ROLE to: every group above it */
      var seen = {}, stack = [i], inherited = [];
      seen[i] = true;
      while (stack.length) {
        var k = stack.pop();
        up[k].forEach(function (pair) {
          pair[1].classList.add("hl");
          pair[1].setAttribute("marker-end", "url(#arrow-hl)");
          if (!seen[pair[0]]) { seen[pair[0]] = true; inherited.push(pair[0]); nodes[pair[0]].classList.add("hl"); stack.push(pair[0]); }
        });
      }
      var members = down[i].map(function (pair) {
        pair[1].classList.add("member"); nodes[pair[0]].classList.add("member"); return pair[0];
      });
      var routes = [];
      (g.routes || []).forEach(function (chain, r) {
        if (chain[0] !== i) { return; }
        routes.push(r);
        chain.forEach(function (k, j) {
          if (k >= 0 && nodes[k]) { nodes[k].classList.add("route"); }
          if (j > 0 && k >= 0 && chain[j - 1] >= 0) {
            edgesOf[chain[j - 1]].forEach(function (p) {
              var a = parseInt(p.dataset.m, 10), b = parseInt(p.dataset.g, 10);
              if ((a === chain[j - 1] && b === k) || (b === chain[j - 1] && a === k)) { p.classList.add("route"); }
            });
          }
        });
        var li = document.getElementById("route-" + r);
        if (li) { li.classList.add("lit"); }
      });
      if (panel) {
        panel.textContent = "";
        var h = el("p"); h.appendChild(el("strong", "role", g.names[i])); h.appendChild(document.createTextNode(" (" + g.kinds[i] + ")"));
        panel.appendChild(h);
        var bundle = (g.bundles || {})[String(i)];
        if (bundle) { panel.appendChild(el("p", "muted", "Roles in this box: " + bundle.join(", "))); }
        panel.appendChild(el("p", null, inherited.length ? "Member of, directly or through other roles: " + names(inherited).join(", ") : "Member of no role."));
        panel.appendChild(el("p", null, members.length ? "Direct members: " + names(members).join(", ") : "No direct members."));
        if (routes.length) {
          panel.appendChild(el("p", null, routes.length + " escalation route" + (routes.length === 1 ? "" : "s") + " to superuser-equivalent or OS access (purple):"));
          var ul = el("ul");
          routes.forEach(function (r) {
            var li = el("li"), a = el("a", null, names(g.routes[r].filter(function (k) { return k >= 0; })).join(" \u2192 "));
            a.href = "#route-" + r; li.appendChild(a); ul.appendChild(li);
          });
          panel.appendChild(ul);
        } else {
          panel.appendChild(el("p", "muted", "No escalation route starts here."));
        }
        panel.hidden = false;
      }
      if (gStatus) { gStatus.textContent = "Selected " + g.names[i] + ": " + inherited.length + " roles above it, " + members.length + " direct members, " + routes.length + " escalation routes."; }
    }

    svg.addEventListener("click", function (ev) {
      var n = ev.target instanceof Element ? ev.target.closest("g.node") : null;
      if (!n) { return; }
      var i = parseInt(n.dataset.i, 10);
      if (i === selected) { clearMarks(); } else { select(i); }
    });
    svg.addEventListener("keydown", function (ev) {
      var n = ev.target instanceof Element ? ev.target.closest("g.node") : null;
      if (!n) { return; }
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        var i = parseInt(n.dataset.i, 10);
        if (i === selected) { clearMarks(); } else { select(i); }
      } else if (ev.key === "Escape") { clearMarks(); }
    });
    var clearBtn = document.getElementById("g-clear");
    if (clearBtn) { clearBtn.addEventListener("click", function () { clearMarks(); if (gStatus) { gStatus.textContent = ""; } }); }

    /* zoom: the SVG's own size changes; the box around it scrolls */
    var scale = 1;
    function setScale(s) {
      scale = Math.max(0.1, Math.min(3, s));
      svg.setAttribute("width", String(Math.round(g.width * scale)));
      svg.setAttribute("height", String(Math.round(g.height * scale)));
      if (gStatus) { gStatus.textContent = "Zoom " + Math.round(scale * 100) + "%"; }
    }
    document.querySelectorAll(".graph-tools [data-zoom]").forEach(function (b) {
      b.addEventListener("click", function () {
        var z = b.dataset.zoom;
        if (z === "in") { setScale(scale * 1.25); }
        else if (z === "out") { setScale(scale / 1.25); }
        else if (z === "reset") { setScale(1); }
        else if (z === "fit" && view) { setScale(Math.min(1, (view.clientWidth - 4) / g.width)); }
      });
    });

    /* search: every role, including those drawn inside a bundle or not drawn */
    function findRole(q) {
      var hits = [], where = {}, i;
      for (i = 0; i < g.names.length; i++) {
        if (!(g.bundles || {})[String(i)] && g.names[i].toLowerCase().indexOf(q) !== -1) { hits.push(i); where[i] = g.names[i]; }
      }
      Object.keys(g.bundles || {}).forEach(function (k) {
        g.bundles[k].forEach(function (name) {
          if (name.toLowerCase().indexOf(q) !== -1 && hits.indexOf(+k) < 0) { hits.push(+k); where[+k] = name; }
        });
      });
      var omitted = (g.omitted || []).filter(function (name) { return name.toLowerCase().indexOf(q) !== -1; });
      return { hits: hits, where: where, omitted: omitted };
    }
    function search(go) {
      var q = gq.value.trim().toLowerCase();
      svg.querySelectorAll(".match").forEach(function (x) { x.classList.remove("match"); });
      if (!q) { if (gStatus) { gStatus.textContent = ""; } return; }
      var r = findRole(q);
      r.hits.forEach(function (i) { nodes[i].classList.add("match"); });
      var msg = r.hits.length ? r.hits.length + " matching box" + (r.hits.length === 1 ? "" : "es") + ": " + r.hits.slice(0, 8).map(function (i) { return r.where[i]; }).join(", ") + (r.hits.length > 8 ? ", \u2026" : "") : "No drawn role matches.";
      if (r.omitted.length) { msg += " Not drawn (less connected): " + r.omitted.slice(0, 8).join(", ") + (r.omitted.length > 8 ? ", \u2026" : "") + "."; }
      if (gStatus) { gStatus.textContent = msg + (r.hits.length ? " Press Enter to select the first." : ""); }
      if (go && r.hits.length) {
        select(r.hits[0]);
        nodes[r.hits[0]].classList.add("match");
        if (nodes[r.hits[0]].scrollIntoView) { nodes[r.hits[0]].scrollIntoView({ block: "center", inline: "center" }); }
      }
    }
    if (gq) {
      gq.addEventListener("input", function () { search(false); });
      gq.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { ev.preventDefault(); search(true); } });
    }
  }

  if (readHash()) {
    apply();
    var f = document.getElementById("findings");
    if (f && f.scrollIntoView) { f.scrollIntoView({ block: "start" }); }
  }
  document.documentElement.dataset.ready = "1";
})();
