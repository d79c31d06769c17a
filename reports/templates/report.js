/* pgaudit-roles HTML report: filters, search, client-side pages, copy buttons.
   Builds every element with createElement/textContent: data never becomes markup. */
(function () {
  "use strict";
  var dataEl = document.getElementById("report-data");
  var data = dataEl ? JSON.parse(dataEl.textContent) : { extra: {}, page: 100 };
  var extra = data.extra || {};
  var shown = {};

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
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
    var td1 = el("td");
    td1.appendChild(el("span", "badge " + sev, sev));
    if (state !== "active") { td1.appendChild(document.createTextNode(" ")); td1.appendChild(el("span", "state " + state, state)); }
    tr.appendChild(td1);
    var td2 = el("td", "where");
    var d = el("div");
    d.appendChild(el("span", "muted", otype));
    d.appendChild(document.createTextNode(" "));
    d.appendChild(el("span", "obj", obj));
    td2.appendChild(d);
    if (db !== null) { d = el("div"); d.appendChild(el("span", "muted", "db")); d.appendChild(document.createTextNode(" " + db)); td2.appendChild(d); }
    if (role !== null && !(otype === "role" && obj === role)) { d = el("div"); d.appendChild(el("span", "muted", "role")); d.appendChild(document.createTextNode(" ")); d.appendChild(el("span", "role", role)); td2.appendChild(d); }
    tr.appendChild(td2);
    tr.appendChild(el("td", "msg", msg));
    var td4 = el("td", "fix");
    if (sql) {
      var box = el("div", "sql"), pre = el("pre"), code = el("code", null, sql);
      pre.appendChild(code); box.appendChild(pre);
      var b = el("button", "copy", "Copy"); b.type = "button"; box.appendChild(b);
      td4.appendChild(box);
      if (destructive) { td4.appendChild(el("div", "warn", "destructive: review before running")); }
    }
    if (manual) { td4.appendChild(el("div", "manual", manual)); }
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

  var fSev = document.getElementById("f-sev"), fDb = document.getElementById("f-db"),
      fRole = document.getElementById("f-role"), fState = document.getElementById("f-state"),
      fQ = document.getElementById("f-q"), status = document.getElementById("f-status");

  function val(x) { return x ? x.value : ""; }

  function apply() {
    var sev = val(fSev), db = val(fDb), role = val(fRole), state = val(fState),
        q = val(fQ).trim().toLowerCase();
    var active = sev !== "" || db !== "" || role !== "" || state !== "" || q !== "";
    if (active) { loadAll(); }
    var minRank = sev === "" ? -1 : parseInt(sev, 10);
    var total = 0, visible = 0;
    document.querySelectorAll("article.rule").forEach(function (art) {
      var any = false;
      art.querySelectorAll("tr.finding").forEach(function (tr) {
        total++;
        var ok = parseInt(tr.dataset.rank, 10) >= minRank &&
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
    if (status) {
      status.textContent = (active ? "Filtered: " : "") + visible.toLocaleString() + " of " +
        (data.total_findings || total).toLocaleString() + " findings shown" +
        (active ? " (filters apply to the findings in this page)." : ".");
    }
  }

  [fSev, fDb, fRole, fState].forEach(function (x) { if (x) { x.addEventListener("change", apply); } });
  if (fQ) { fQ.addEventListener("input", apply); }
  var form = document.getElementById("filters");
  if (form) {
    form.addEventListener("submit", function (ev) { ev.preventDefault(); });
    form.addEventListener("reset", function () { setTimeout(apply, 0); });
  }

  function flash(btn, text) {
    var old = btn.textContent;
    btn.textContent = text;
    setTimeout(function () { btn.textContent = old; }, 1200);
  }

  function copyText(text, btn) {
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
      flash(btn, ok ? "Copied" : "Select and copy");
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { flash(btn, "Copied"); }, fallback);
    } else { fallback(); }
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!(t instanceof Element)) { return; }
    if (t.matches("button.copy")) {
      var code = t.closest(".sql").querySelector("code");
      copyText(code.textContent, t);
    } else if (t.matches("button.copy-all")) {
      var art = t.closest("article.rule");
      var parts = [];
      art.querySelectorAll("tr.finding").forEach(function (tr) {
        if (tr.hidden) { return; }
        var c = tr.querySelector(".sql code");
        if (c) { parts.push(c.textContent); }
      });
      copyText(parts.join("\n"), t);
    } else if (t.matches("button.show-more")) {
      showMore(t.dataset.rule, false);
      apply();
    }
  });

  document.documentElement.dataset.ready = "1";
})();
