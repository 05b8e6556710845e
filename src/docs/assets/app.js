// The docs site's pages. Data comes in script files (`data/<kind>-<k>.js`) that call
// `strata.load`; a page loads only the shards it needs. Everything user-provided is put into
// the page with textContent, except descriptions, which arrive as HTML made safe when the site
// was generated (raw HTML escaped, unsafe link schemes dropped).
"use strict";

var strata = (function () {
  var meta = null;
  var shards = {};   // "kind/k" -> items
  var waiting = {};  // "kind/k" -> [resolve...]
  var graph = null;  // the DAG, once loaded
  var searchRows = null;
  var lineage = null;

  // ---- data loading -------------------------------------------------------------------------
  function load(kind, k, items) {
    var key = kind + "/" + k;
    shards[key] = items;
    (waiting[key] || []).forEach(function (w) { w.resolve(items); });
    delete waiting[key];
  }

  function need(kind, k) {
    var key = kind + "/" + k;
    if (shards[key]) return Promise.resolve(shards[key]);
    return new Promise(function (resolve, reject) {
      var first = !waiting[key];
      (waiting[key] = waiting[key] || []).push({ resolve: resolve, reject: reject });
      if (!first) return;
      var s = document.createElement("script");
      s.src = meta[kind].files[k];
      s.onerror = function () {
        (waiting[key] || []).forEach(function (w) {
          w.reject(new Error("could not load " + meta[kind].files[k] +
            ": generate the site again with `strata docs generate`"));
        });
        delete waiting[key];
      };
      document.head.appendChild(s);
    });
  }

  function needAll(kind) {
    return Promise.all(meta[kind].files.map(function (_, k) { return need(kind, k); }))
      .then(function (parts) { return [].concat.apply([], parts); });
  }

  // The shard holding item `i` of a kind whose shards cover index ranges.
  function shardOf(kind, i) {
    var firsts = meta[kind].firsts;
    var lo = 0;
    var hi = firsts.length - 1;
    while (lo < hi) {
      var mid = (lo + hi + 1) >> 1;
      if (firsts[mid] <= i) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  function item(kind, i) {
    var k = shardOf(kind, i);
    return need(kind, k).then(function (items) { return items[i - meta[kind].firsts[k]]; });
  }

  function loadGraph() {
    if (graph) return Promise.resolve(graph);
    return Promise.all([needAll("graph"), needAll("config")]).then(function (r) {
      var rows = r[0];
      var g = { nodes: [], parents: [], children: [], configs: r[1],
        resourceTypes: meta.resource_types, byId: {} };
      rows.forEach(function (row, i) {
        g.nodes.push({ id: row[0], type: row[1], name: row[2], path: row[3], fqn: row[4],
          tags: row[5], source: row[6], testType: row[7], materialized: row[8],
          config: row[9] });
        g.parents.push(row[10]);
        g.children.push([]);
        g.byId[row[0]] = i;
      });
      g.parents.forEach(function (ps, i) { ps.forEach(function (p) { g.children[p].push(i); }); });
      graph = g;
      return g;
    });
  }

  function loadLineage() {
    if (lineage) return Promise.resolve(lineage);
    return needAll("lineage").then(function (rows) {
      var l = { columns: {}, inputs: {}, readers: {} };
      rows.forEach(function (row) {
        var to = row[0];
        l.columns[to] = row[1].map(function (c) { return c[0]; });
        row[1].forEach(function (c) {
          l.inputs[to + "\u0000" + c[0].toLowerCase()] = c[1];
          c[1].forEach(function (f) { addReader(l, f, to, c[0]); });
        });
        row[2].forEach(function (f) { addReader(l, f, to, null); });
      });
      lineage = l;
      return l;
    });
  }

  function addReader(l, f, to, toCol) {
    if (f[0] === null) return;
    var key = f[0] + "\u0000" + f[1].toLowerCase();
    (l.readers[key] = l.readers[key] || []).push([to, toCol, f[2], f[3]]);
  }

  // ---- small DOM helpers --------------------------------------------------------------------
  function h(tag, attrs, children) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "cls") e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return e;
  }

  function link(href, label, cls) {
    return h("a", { href: href, text: label, cls: cls || "" });
  }

  function nodeHref(i) { return "#!/n/" + i; }

  function badge(status) {
    return h("span", { cls: "badge " + String(status || "none").replace(/[^a-z]/g, ""),
      text: status || "not run" });
  }

  function main() {
    var m = document.getElementById("main");
    m.textContent = "";
    return m;
  }

  function ready(name) {
    document.body.setAttribute("data-ready", name);
    if (window.strataFirstReady === undefined) window.strataFirstReady = performance.now();
  }

  function fail(e) {
    var m = main();
    m.appendChild(h("p", { cls: "error", text: String(e && e.message || e) }));
    ready("error");
  }

  // ---- SQL highlighting ---------------------------------------------------------------------
  var KEYWORDS = ("select from where join left right inner outer full cross on and or not " +
    "as group by order having limit with union all distinct case when then else end is null " +
    "in exists between like ilike create table view insert into values update delete merge " +
    "using over partition window asc desc true false cast interval lateral qualify filter " +
    "coalesce count sum avg min max").split(" ");
  var KW = {};
  KEYWORDS.forEach(function (k) { KW[k] = true; });
  var TOKEN = /(--[^\n]*|\/\*[\s\S]*?\*\/|\{#[\s\S]*?#\}|\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|'(?:[^']|'')*'|"(?:[^"]|"")*"|\b[0-9]+(?:\.[0-9]+)?\b|[A-Za-z_][A-Za-z0-9_]*)/g;

  function sqlBlock(sql) {
    var pre = h("pre", { cls: "sql" });
    var code = h("code");
    pre.appendChild(code);
    var last = 0;
    sql.replace(TOKEN, function (tok, _1, offset) {
      if (offset > last) code.appendChild(document.createTextNode(sql.slice(last, offset)));
      var cls = null;
      if (tok.indexOf("--") === 0 || tok.indexOf("/*") === 0 || tok.indexOf("{#") === 0) cls = "c";
      else if (tok.charAt(0) === "{") cls = "j";
      else if (tok.charAt(0) === "'") cls = "s";
      else if (tok.charAt(0) === "\"") cls = "q";
      else if (/^[0-9]/.test(tok)) cls = "n";
      else if (KW[tok.toLowerCase()]) cls = "k";
      code.appendChild(cls ? h("span", { cls: cls, text: tok }) : document.createTextNode(tok));
      last = offset + tok.length;
      return tok;
    });
    if (last < sql.length) code.appendChild(document.createTextNode(sql.slice(last)));
    return pre;
  }

  // ---- pages --------------------------------------------------------------------------------
  function home() {
    var m = main();
    m.appendChild(h("h1", { text: meta.project }));
    m.appendChild(h("p", { cls: "muted", text: "Target " + meta.target.name + " (" +
      meta.target.type + "), generated " + meta.generated_at }));
    var t = h("table", { cls: "counts" });
    Object.keys(meta.counts).forEach(function (k) {
      t.appendChild(h("tr", {}, [h("th", { text: k + "s" }), h("td", { text: String(meta.counts[k]) })]));
    });
    m.appendChild(t);
    if (meta.run) {
      m.appendChild(h("p", { text: "Last run: strata " + (meta.run.which || "?") + " on " +
        (meta.run.target || "?") + ", " + (meta.run.generated_at || "") + ", " +
        Number(meta.run.elapsed_time || 0).toFixed(1) + " s" }));
    } else {
      m.appendChild(h("p", { cls: "muted", text: "No run yet: statuses appear after `strata build`." }));
    }
    m.appendChild(h("p", {}, [link("#!/graph", "Open the lineage graph"),
      " or search above for a model, a column or a description."]));
    ready("home");
  }

  function kv(rows) {
    var t = h("table", { cls: "kv" });
    rows.forEach(function (r) {
      if (r[1] === null || r[1] === undefined || r[1] === "" ||
        (Array.isArray(r[1]) && r[1].length === 0)) return;
      var v = r[1];
      var cell = h("td");
      if (v instanceof Node) cell.appendChild(v); else cell.textContent = Array.isArray(v)
        ? v.join(", ") : (typeof v === "object" ? JSON.stringify(v) : String(v));
      t.appendChild(h("tr", {}, [h("th", { text: r[0] }), cell]));
    });
    return t;
  }

  function description(html) {
    var d = h("div", { cls: "description" });
    // Made safe at generate time (src/docs/markdown.rs): raw HTML is text, links are checked.
    d.innerHTML = html;
    return d;
  }

  function nodePage(i) {
    if (!(i >= 0 && i < meta.nodes)) return Promise.reject(new Error("no node number " + i));
    return item("page", i).then(function (p) {
      var m = main();
      m.appendChild(h("h1", {}, [h("span", { cls: "type " + p.type, text: p.type }), " ",
        p.source_name ? p.source_name + "." + p.name : p.name]));
      m.appendChild(kv([["id", p.id], ["path", p.path], ["relation", p.relation],
        ["materialized", p.type === "model" ? p.materialized : null], ["package", p.package],
        ["owner", p.owner], ["tags", p.tags],
        ["meta", Object.keys(p.meta || {}).length ? p.meta : null]]));
      if (p.description) m.appendChild(description(p.description));
      runSection(m, p);
      if (p.exposure) exposureSection(m, p.exposure);
      if (p.test) m.appendChild(kv([["test", p.test.name], ["column", p.test.column],
        ["arguments", Object.keys(p.test.kwargs || {}).length ? p.test.kwargs : null],
        ["severity", p.test.severity]]));
      if (p.contract) m.appendChild(kv([["contract", p.contract.schema],
        ["enforced", String(p.contract.enforced)], ["closed", String(p.contract.closed)]]));
      columnsSection(m, i, p);
      if (p.tests.length) {
        m.appendChild(h("h2", { text: "Tests" }));
        m.appendChild(testList(p.tests));
      }
      m.appendChild(h("h2", { text: "Lineage" }));
      m.appendChild(h("p", {}, [link("#!/graph/" + encodeURIComponent("+" + selectorOf(p) + "+"),
        "Show upstream and downstream in the graph")]));
      m.appendChild(h("div", { cls: "updown" }, [neighbours("Upstream", p.up),
        neighbours("Downstream", p.down)]));
      if (p.raw) { m.appendChild(h("h2", { text: "Source" })); m.appendChild(sqlBlock(p.raw)); }
      if (p.compiled) {
        m.appendChild(h("h2", { text: "Compiled SQL" }));
        m.appendChild(sqlBlock(p.compiled));
      }
      document.title = p.name + " \u00b7 " + meta.project;
      ready("node");
    });
  }

  function selectorOf(p) {
    if (p.type === "source") return "source:" + p.source_name + "." + p.name;
    return p.name;
  }

  function runSection(m, p) {
    if (p.run) {
      m.appendChild(h("p", { cls: "run" }, ["Last run: ", badge(p.run.status), " " +
        Number(p.run.execution_time).toFixed(2) + " s" +
        (p.run.rows !== undefined ? ", " + p.run.rows + " rows" : "") +
        (p.run.completed_at ? ", " + p.run.completed_at : "")]));
      if (p.run.message) m.appendChild(h("p", { cls: "muted", text: p.run.message }));
    }
    if (p.freshness) {
      var f = p.freshness;
      var slo = [f.warn_after ? "warn after " + f.warn_after : null,
        f.error_after ? "error after " + f.error_after : null].filter(Boolean).join(", ");
      var line = h("p", { cls: "freshness" }, ["Freshness (" + slo + " on " +
        (f.loaded_at_field || "?") + "): "]);
      if (f.last) {
        line.appendChild(badge(f.last.status));
        if (f.last.age_seconds !== undefined) {
          line.appendChild(document.createTextNode(" last loaded " + age(f.last.age_seconds) +
            " before " + (f.last.snapshotted_at || "the check")));
        }
      } else {
        line.appendChild(badge(null));
      }
      m.appendChild(line);
    }
  }

  function age(s) {
    if (s < 120) return Math.round(s) + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    return (s / 3600).toFixed(1) + " h";
  }

  function exposureSection(m, e) {
    var url = null;
    if (e.url && e.url_safe) {
      url = h("a", { href: e.url, rel: "noopener noreferrer", text: e.url });
    } else if (e.url) {
      url = h("span", { text: e.url + " (not a web address: not linked)" });
    }
    m.appendChild(kv([["exposure type", e.type], ["owner", e.owner_name],
      ["owner e-mail", e.owner_email], ["maturity", e.maturity], ["label", e.label],
      ["url", url]]));
  }

  function testList(tests) {
    var ul = h("ul", { cls: "tests" });
    tests.forEach(function (t) {
      ul.appendChild(h("li", {}, [link(nodeHref(t[0]), t[1]), " ", badge(t[2])]));
    });
    return ul;
  }

  function columnsSection(m, i, p) {
    if (!p.columns.length) return;
    m.appendChild(h("h2", { text: "Columns" }));
    var t = h("table", { cls: "columns" });
    t.appendChild(h("tr", {}, ["Column", "Declared type", "Warehouse type", "Description",
      "Tests", "Contract"].map(function (s) { return h("th", { text: s }); })));
    p.columns.forEach(function (c) {
      var contract = c.contract ? (c.contract.types || []).join(" | ") +
        (c.contract.format ? " (" + c.contract.format + ")" : "") +
        (c.contract.required ? ", required" : "") : "";
      t.appendChild(h("tr", { "data-column": c.name }, [
        h("td", {}, [link("#!/col/" + i + "/" + encodeURIComponent(c.name), c.name, "colname")]),
        h("td", { text: c.type || "" }),
        h("td", { text: c.wtype || "" }),
        h("td", {}, [c.description ? description(c.description) : null]),
        h("td", {}, [c.tests.length ? testList(c.tests) : null]),
        h("td", { text: contract })
      ]));
    });
    m.appendChild(t);
  }

  function neighbours(title, list) {
    var d = h("div", {}, [h("h3", { text: title + " (" + list.length + ")" })]);
    var ul = h("ul");
    list.forEach(function (x) {
      ul.appendChild(h("li", {}, [h("span", { cls: "type " + x[2], text: x[2] }), " ",
        link(nodeHref(x[0]), x[1])]));
    });
    d.appendChild(ul);
    return d;
  }

  function macroPage(k) {
    if (!(k >= 0 && k < meta.counts.macro)) return Promise.reject(new Error("no macro number " + k));
    return item("macro", k).then(function (p) {
      var m = main();
      m.appendChild(h("h1", {}, [h("span", { cls: "type macro", text: "macro" }), " " + p.name]));
      m.appendChild(kv([["path", p.path], ["package", p.package]]));
      m.appendChild(sqlBlock(p.raw));
      ready("macro");
    });
  }

  // ---- the graph ----------------------------------------------------------------------------
  var GRAPH_LIMIT = 2000;

  function graphPage(selector) {
    return loadGraph().then(function (g) {
      var m = main();
      m.appendChild(h("h1", { text: "Lineage graph" }));
      var input = h("input", { id: "selector", type: "text", value: selector,
        placeholder: "+mart_ar_aging  tag:marts  @stg_invoices  source:odoo+  (as strata ls -s)",
        autocomplete: "off", spellcheck: "false" });
      var form = h("form", { id: "select-form" }, [input, h("button", { type: "submit", text: "Select" })]);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        location.hash = "#!/graph/" + encodeURIComponent(input.value.trim());
      });
      m.appendChild(form);
      var chosen;
      try {
        chosen = strataSelect.select(g, selector);
      } catch (e) {
        m.appendChild(h("pre", { id: "selector-error", cls: "error",
          text: e.message + (e.help ? "\n" + e.help : "") }));
        ready("graph-error");
        return;
      }
      var drawn = chosen.filter(function (i) { return g.nodes[i].type !== "test"; });
      var status = h("p", { id: "selection-count", text: chosen.length + " nodes selected (" +
        (chosen.length - drawn.length) + " tests, listed below)" });
      m.appendChild(status);
      var holder = h("div", { id: "graph", cls: "graph" });
      m.appendChild(holder);
      if (drawn.length > GRAPH_LIMIT) {
        holder.appendChild(h("p", { cls: "muted", text: drawn.length +
          " nodes are too many to draw: narrow the selector (e.g. +name+2, tag:marts)" }));
      } else {
        strataGraph.drawDag(holder, g, drawn, null, function (i) { location.hash = nodeHref(i); });
      }
      var list = h("ul", { id: "selection-list" });
      chosen.forEach(function (i) {
        list.appendChild(h("li", { "data-id": g.nodes[i].id }, [link(nodeHref(i), g.nodes[i].id)]));
      });
      m.appendChild(h("details", {}, [h("summary", { text: "Selected nodes" }), list]));
      ready("graph");
    });
  }

  // ---- the column view ----------------------------------------------------------------------
  // Upstream: the inputs of the column, then theirs; downstream: what reads it, then what reads
  // those. The same walk as `strata lineage NODE.COLUMN [--downstream]`.
  function follow(l, start, downstream) {
    var seen = {};
    seen[start[0] + "\u0000" + start[1].toLowerCase()] = true;
    var edges = [];
    var frontier = [start];
    while (frontier.length) {
      var next = [];
      frontier.forEach(function (p) {
        var found = [];
        if (downstream) {
          if (p[1] === null) return;
          (l.readers[p[0] + "\u0000" + p[1].toLowerCase()] || []).forEach(function (r) {
            found.push({ from: p, to: [r[0], r[1]], kind: r[2], subtype: r[3] });
          });
        } else {
          (l.inputs[p[0] + "\u0000" + p[1].toLowerCase()] || []).forEach(function (f) {
            if (f[0] === null) return;
            found.push({ from: [f[0], f[1]], to: p, kind: f[2], subtype: f[3] });
          });
        }
        found.forEach(function (e) {
          var other = downstream ? e.to : e.from;
          var key = other[0] + "\u0000" + (other[1] === null ? "" : other[1].toLowerCase());
          if (!seen[key]) {
            seen[key] = true;
            next.push(other);
          }
          edges.push(e);
        });
      });
      frontier = next;
    }
    return edges;
  }

  function columnPage(i, col) {
    return Promise.all([loadGraph(), loadLineage()]).then(function (r) {
      var g = r[0];
      var l = r[1];
      var n = g.nodes[i];
      if (!n) throw new Error("no node number " + i + " in this site: generate it again");
      var m = main();
      m.appendChild(h("h1", {}, ["Column lineage of ", link(nodeHref(i), n.name), "." + col]));
      var known = l.columns[i] || [];
      if (!known.some(function (k) { return k.toLowerCase() === col.toLowerCase(); })) {
        m.appendChild(h("p", { cls: "error", text: n.name + " has no column lineage for `" + col +
          "`" + (known.length ? "; its columns: " + known.join(", ") : "") }));
        ready("columns");
        return;
      }
      var up = follow(l, [i, col], false);
      var down = follow(l, [i, col], true);
      var points = {};
      function add(node, c, role, label) {
        var rows = points[node] = points[node] || [];
        var name = c === null ? "" : c;
        for (var k = 0; k < rows.length; k++) {
          if (rows[k].col.toLowerCase() === name.toLowerCase()) {
            if (label && rows[k].label.indexOf(label) < 0) rows[k].label += (rows[k].label ? ", " : "") + label;
            return;
          }
        }
        rows.push({ col: name, role: role, label: label || "" });
      }
      add(i, col, "root", "");
      up.forEach(function (e) { add(e.from[0], e.from[1], "up", e.subtype); });
      down.forEach(function (e) { add(e.to[0], e.to[1], "down", e.subtype); });
      var edges = up.concat(down).map(function (e) {
        return [e.from[0], e.from[1], e.to[0], e.to[1]];
      });
      m.appendChild(h("p", { cls: "muted", text: up.length + " upstream and " + down.length +
        " downstream edges. Each column shows how it is used: IDENTITY, TRANSFORMATION, " +
        "AGGREGATION (direct); JOIN, FILTER, GROUP_BY, SORT, WINDOW, CONDITIONAL (indirect)." }));
      var holder = h("div", { id: "column-graph", cls: "graph" });
      m.appendChild(holder);
      strataGraph.drawColumns(holder, g, points, edges, function (j) { location.hash = nodeHref(j); });
      ready("columns");
    });
  }

  // ---- search -------------------------------------------------------------------------------
  function loadSearch() {
    if (searchRows) return Promise.resolve(searchRows);
    return needAll("search").then(function (rows) {
      searchRows = rows.map(function (r) {
        return { kind: r[0], i: r[1], name: r[2], type: r[3], description: r[4],
          columns: r[5], path: r[6], lname: r[2].toLowerCase(),
          ldesc: r[4].toLowerCase(), lcols: r[5].map(function (c) { return c.toLowerCase(); }) };
      });
      return searchRows;
    });
  }

  function search(q) {
    var words = q.toLowerCase().split(/\s+/).filter(Boolean);
    if (!words.length) return Promise.resolve([]);
    return loadSearch().then(function (rows) {
      var hits = [];
      rows.forEach(function (r) {
        var score = 0;
        var column = null;
        for (var w = 0; w < words.length; w++) {
          var word = words[w];
          var s = 0;
          if (r.lname === word) s = 100;
          else if (r.lname.indexOf(word) === 0) s = 60;
          else if (r.lname.indexOf(word) >= 0) s = 40;
          for (var c = 0; c < r.lcols.length && s < 30; c++) {
            if (r.lcols[c] === word) { s = Math.max(s, 30); column = r.columns[c]; }
            else if (r.lcols[c].indexOf(word) >= 0 && s < 20) { s = 20; column = r.columns[c]; }
          }
          if (s === 0 && r.ldesc.indexOf(word) >= 0) s = 10;
          if (s === 0) return;
          score += s;
        }
        hits.push({ row: r, score: score, column: column });
      });
      hits.sort(function (a, b) { return b.score - a.score || (a.row.name < b.row.name ? -1 : 1); });
      return hits.slice(0, 50);
    });
  }

  function showResults(hits, q) {
    var box = document.getElementById("results");
    box.textContent = "";
    if (!q) { box.hidden = true; return; }
    box.hidden = false;
    if (!hits.length) {
      box.appendChild(h("p", { cls: "muted", text: "Nothing matches \u201c" + q + "\u201d." }));
      return;
    }
    var ul = h("ul");
    hits.forEach(function (x) {
      var r = x.row;
      var href = r.kind === "m" ? "#!/m/" + r.i : (x.column ? "#!/col/" + r.i + "/" +
        encodeURIComponent(x.column) : nodeHref(r.i));
      var li = h("li", { cls: "hit", "data-kind": r.kind, "data-index": String(r.i) }, [
        h("span", { cls: "type " + r.type, text: r.type }), " ",
        link(href, r.name + (x.column ? "." + x.column : ""), "hit-link")]);
      if (r.description) li.appendChild(h("div", { cls: "muted", text: r.description.slice(0, 160) }));
      ul.appendChild(li);
    });
    box.appendChild(ul);
  }

  function setUpSearch() {
    var input = document.getElementById("search");
    var timer = null;
    var last = "";
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value.trim();
        last = q;
        search(q).then(function (hits) { if (q === last) showResults(hits, q); }, fail);
      }, 60);
    });
    document.addEventListener("click", function (e) {
      if (!document.getElementById("results").contains(e.target) && e.target !== input) {
        document.getElementById("results").hidden = true;
      }
    });
  }

  // ---- routes -------------------------------------------------------------------------------
  function route() {
    document.getElementById("results").hidden = true;
    document.body.setAttribute("data-ready", "");
    var hash = location.hash.replace(/^#!?\/?/, "");
    var parts = hash.split("/");
    var done;
    if (parts[0] === "n" && parts[1] !== undefined) done = nodePage(+parts[1]);
    else if (parts[0] === "m" && parts[1] !== undefined) done = macroPage(+parts[1]);
    else if (parts[0] === "graph") done = graphPage(decodeURIComponent(parts.slice(1).join("/")));
    else if (parts[0] === "col" && parts.length >= 3) {
      done = columnPage(+parts[1], decodeURIComponent(parts.slice(2).join("/")));
    } else done = Promise.resolve(home());
    done.then(null, fail);
  }

  function start(m) {
    meta = m;
    function go() {
      document.getElementById("project").textContent = meta.project;
      document.title = meta.project + " \u00b7 strata docs";
      setUpSearch();
      window.addEventListener("hashchange", route);
      route();
    }
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", go);
    else go();
  }

  return { meta: start, load: load, search: search };
})();
