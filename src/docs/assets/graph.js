// Drawing the DAG and the column lineage view as SVG: a layered layout (each node one layer
// right of its furthest parent in the drawing, rows ordered by the barycenter of their
// neighbours), boxes and curved edges. Every label is set with textContent.
"use strict";

var strataGraph = (function () {
  var SVG = "http://www.w3.org/2000/svg";
  var BOX_W = 190;
  var GAP_X = 80;
  var ROW_H = 20;
  var GAP_Y = 14;

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVG, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function text(parent, x, y, s, cls) {
    var t = el("text", { x: x, y: y, "class": cls || "" }, parent);
    t.textContent = s;
    return t;
  }

  function short(s, n) {
    return s.length > n ? s.slice(0, n - 1) + "\u2026" : s;
  }

  // Layers and rows of the nodes `ids` (indices), given each one's parents (filtered to `ids`).
  function layout(ids, parentsOf) {
    var inSet = {};
    ids.forEach(function (i) { inSet[i] = true; });
    var layer = {};
    function depth(i, guard) {
      if (layer[i] !== undefined) return layer[i];
      if (guard > 10000) return 0;
      var d = 0;
      parentsOf(i).forEach(function (p) {
        if (inSet[p]) d = Math.max(d, depth(p, guard + 1) + 1);
      });
      layer[i] = d;
      return d;
    }
    ids.forEach(function (i) { depth(i, 0); });
    var layers = [];
    ids.forEach(function (i) {
      (layers[layer[i]] = layers[layer[i]] || []).push(i);
    });
    var pos = {};
    layers.forEach(function (l) { l.forEach(function (i, k) { pos[i] = k; }); });
    var childrenOf = {};
    ids.forEach(function (i) {
      parentsOf(i).forEach(function (p) {
        if (inSet[p]) (childrenOf[p] = childrenOf[p] || []).push(i);
      });
    });
    function sweep(l, neighbours) {
      l.forEach(function (i) {
        var ns = neighbours(i);
        var sum = 0;
        var count = 0;
        ns.forEach(function (n) {
          if (inSet[n]) {
            sum += pos[n];
            count += 1;
          }
        });
        l.bary = l.bary || {};
        l.bary[i] = count ? sum / count : pos[i];
      });
      l.sort(function (a, b) { return l.bary[a] - l.bary[b]; });
      l.forEach(function (i, k) { pos[i] = k; });
    }
    for (var round = 0; round < 4; round++) {
      for (var a = 1; a < layers.length; a++) sweep(layers[a], parentsOf);
      for (var b = layers.length - 2; b >= 0; b--) {
        sweep(layers[b], function (i) { return childrenOf[i] || []; });
      }
    }
    return { layer: layer, layers: layers, pos: pos };
  }

  function curve(parent, x1, y1, x2, y2, cls) {
    var mx = (x1 + x2) / 2;
    return el("path", {
      d: "M" + x1 + "," + y1 + " C" + mx + "," + y1 + " " + mx + "," + y2 + " " + x2 + "," + y2,
      "class": cls
    }, parent);
  }

  // The DAG of `ids` in `holder`: `g` the graph data, `focus` an index to mark, `open(i)` when
  // a node is clicked.
  function drawDag(holder, g, ids, focus, open) {
    var lay = layout(ids, function (i) { return g.parents[i]; });
    var maxRows = 0;
    lay.layers.forEach(function (l) { maxRows = Math.max(maxRows, l.length); });
    var width = lay.layers.length * (BOX_W + GAP_X) + 20;
    var height = maxRows * (ROW_H + GAP_Y) + 20;
    var svg = el("svg", { width: width, height: height, "class": "dag",
      viewBox: "0 0 " + width + " " + height });
    var at = {};
    ids.forEach(function (i) {
      at[i] = { x: 10 + lay.layer[i] * (BOX_W + GAP_X), y: 10 + lay.pos[i] * (ROW_H + GAP_Y) };
    });
    var edges = el("g", { "class": "edges" }, svg);
    ids.forEach(function (i) {
      g.parents[i].forEach(function (p) {
        if (at[p] === undefined) return;
        curve(edges, at[p].x + BOX_W, at[p].y + ROW_H / 2, at[i].x, at[i].y + ROW_H / 2, "edge");
      });
    });
    ids.forEach(function (i) {
      var n = g.nodes[i];
      var box = el("g", { "class": "node " + n.type + (i === focus ? " focus" : ""),
        "data-id": n.id, tabindex: "0" }, svg);
      el("rect", { x: at[i].x, y: at[i].y, width: BOX_W, height: ROW_H, rx: 4 }, box);
      var label = n.type === "source" && n.source !== null ? n.source + "." + n.name : n.name;
      text(box, at[i].x + 8, at[i].y + 14, short(label, 27));
      el("title", {}, box).textContent = n.id;
      box.addEventListener("click", function () { open(i); });
      box.addEventListener("keydown", function (e) { if (e.key === "Enter") open(i); });
    });
    holder.appendChild(svg);
    return svg;
  }

  // The column view: `points` maps a node index to its rows
  // [{col, role: "root"|"up"|"down", label}], `edges` are [fromNode, fromCol, toNode, toCol].
  function drawColumns(holder, g, points, edges, open) {
    var ids = Object.keys(points).map(Number);
    var involved = {};
    edges.forEach(function (e) {
      (involved[e[2]] = involved[e[2]] || {})[e[0]] = true;
    });
    var lay = layout(ids, function (i) { return Object.keys(involved[i] || {}).map(Number); });
    var at = {};
    var colY = {};
    var bottom = 0;
    lay.layers.forEach(function (l, li) {
      var y = 10;
      l.forEach(function (i) {
        var rows = points[i];
        at[i] = { x: 10 + li * (BOX_W + 110 + GAP_X), y: y, h: (rows.length + 1) * ROW_H + 6 };
        rows.forEach(function (r, k) {
          colY[i + "\u0000" + r.col] = y + (k + 1.5) * ROW_H + 3;
        });
        y += at[i].h + GAP_Y;
      });
      bottom = Math.max(bottom, y);
    });
    var width = lay.layers.length * (BOX_W + 110 + GAP_X) + 20;
    var svg = el("svg", { width: width, height: bottom + 10, "class": "columns",
      viewBox: "0 0 " + width + " " + (bottom + 10) });
    var lines = el("g", { "class": "edges" }, svg);
    edges.forEach(function (e) {
      var y1 = colY[e[0] + "\u0000" + e[1]];
      var y2 = colY[e[2] + "\u0000" + (e[3] === null ? "" : e[3])];
      if (y1 === undefined || y2 === undefined) return;
      curve(lines, at[e[0]].x + BOX_W + 110, y1, at[e[2]].x, y2, "edge");
    });
    ids.forEach(function (i) {
      var n = g.nodes[i];
      var box = el("g", { "class": "cnode " + n.type, "data-id": n.id }, svg);
      el("rect", { x: at[i].x, y: at[i].y, width: BOX_W + 110, height: at[i].h, rx: 4 }, box);
      var head = text(box, at[i].x + 8, at[i].y + 15, short(n.type === "source" && n.source !== null
        ? n.source + "." + n.name : n.name, 40), "head");
      head.addEventListener("click", function () { open(i); });
      points[i].forEach(function (r, k) {
        var row = el("g", { "class": "col " + r.role, "data-node": n.id, "data-col": r.col },
          box);
        var y = at[i].y + (k + 1) * ROW_H + 6;
        el("rect", { x: at[i].x + 4, y: y, width: BOX_W + 102, height: ROW_H - 2, rx: 3 }, row);
        text(row, at[i].x + 10, y + 13, short(r.col === "" ? "(every row)" : r.col, 26));
        if (r.label) text(row, at[i].x + BOX_W + 104, y + 13, r.label, "kind");
      });
    });
    holder.appendChild(svg);
    return svg;
  }

  return { drawDag: drawDag, drawColumns: drawColumns };
})();
