// Node selection in the browser, with the syntax and the results of `strata ls -s`
// (src/graph/select.rs): `name`, `+name`, `name+`, `2+name`, `name+1`, `@name`, `tag:`,
// `path:`, `file:`, `config.<key>:`, `source:`, `resource_type:`, `fqn:`, `package:`,
// `exposure:`, `test_type:`, globs, unions (space) and intersections (comma), and tests added
// when any node they test is selected (eager indirect selection). Keep the two in step: the
// browser tests compare them on the example project.
"use strict";

var strataSelect = (function () {
  var METHODS = ["tag", "path", "source", "resource_type", "fqn", "package", "config",
    "exposure", "test_type", "file"];
  var METHODS_HELP = "the selector methods are tag:, path:, file:, config.<key>:, source:, " +
    "resource_type:, fqn:, package:, exposure:, test_type:, or none for a name or glob " +
    "(`mart_*`); graph operators: `+name`, `name+`, `2+name`, `@name`";

  function SelectorError(message, help) {
    this.message = message;
    this.help = help || "";
  }

  // One `method:value` with its graph operators. `parents`/`children`: undefined when absent,
  // null for any depth, else the depth.
  function parseAtom(s) {
    var rest = s;
    var atom = { text: s, at: false, parents: undefined, children: undefined, method: null,
      value: "" };
    if (rest.charAt(0) === "@") {
      atom.at = true;
      rest = rest.slice(1);
    }
    var digits = /^[0-9]*/.exec(rest)[0];
    if (rest.charAt(digits.length) === "+") {
      atom.parents = digits === "" ? null : parseInt(digits, 10);
      rest = rest.slice(digits.length + 1);
    }
    var plus = rest.lastIndexOf("+");
    if (plus >= 0) {
      var tail = rest.slice(plus + 1);
      if (/^[0-9]*$/.test(tail)) {
        var valuePart = rest.slice(0, plus);
        if (valuePart !== "") {
          atom.children = tail === "" ? null : parseInt(tail, 10);
          rest = valuePart;
        }
      }
    }
    if (atom.at && (atom.parents !== undefined || atom.children !== undefined)) {
      throw new SelectorError("`" + s + "`: `@` cannot be combined with `+`");
    }
    var colon = rest.indexOf(":");
    if (colon >= 0) {
      var method = rest.slice(0, colon);
      var base = method.split(".")[0];
      if (METHODS.indexOf(base) < 0) {
        throw new SelectorError("unknown selector method `" + method + "` in `" + s + "`",
          METHODS_HELP);
      }
      if (base === "config" && method.indexOf(".") < 0) {
        throw new SelectorError("`" + s +
          "`: write `config.<key>:<value>`, e.g. config.materialized:table");
      }
      atom.method = method;
      atom.value = rest.slice(colon + 1);
    } else {
      atom.value = rest;
    }
    if (atom.value === "") {
      throw new SelectorError("selector `" + s + "` has no value", METHODS_HELP);
    }
    return atom;
  }

  // `*` and `?` globbing, as the Rust side does it.
  function glob(p, t) {
    function rec(i, j) {
      if (i === p.length) return j === t.length;
      var c = p.charAt(i);
      if (c === "*") return rec(i + 1, j) || (j < t.length && rec(i, j + 1));
      if (j === t.length) return false;
      if (c === "?" || c === t.charAt(j)) return rec(i + 1, j + 1);
      return false;
    }
    return rec(0, 0);
  }

  function jsonEq(j, v) {
    if (typeof j === "string") return glob(v, j);
    return JSON.stringify(j) === v;
  }

  function fqnMatch(v, node) {
    var parts = v.split(".");
    var fqn = node.fqn;
    function prefixAt(offset) {
      if (fqn.length < offset + parts.length) return false;
      for (var k = 0; k < parts.length; k++) {
        if (!glob(parts[k], fqn[offset + k])) return false;
      }
      return true;
    }
    return prefixAt(0) || prefixAt(1);
  }

  function configValue(g, node, key) {
    if (key === "materialized") return node.materialized;
    if (key === "test_type") return node.testType === null ? undefined : node.testType;
    var config = g.configs[node.config];
    if (!config || !Object.prototype.hasOwnProperty.call(config, key)) return undefined;
    return config[key];
  }

  function pathMatch(v, node) {
    var p = node.path;
    var w = v.replace(/\/+$/, "");
    return p === w || p.indexOf(w + "/") === 0 || glob(w, p);
  }

  function defaultMatch(v, node) {
    if (v.indexOf("/") >= 0 || /\.sql$/.test(v) || /\.csv$/.test(v)) return pathMatch(v, node);
    if (node.type === "source") {
      return node.source !== null && glob(v, node.source + "." + node.name);
    }
    return glob(v, node.name) || (node.type !== "test" && fqnMatch(v, node));
  }

  function matches(g, atom, node) {
    var v = atom.value;
    var m = atom.method;
    if (m === null) return defaultMatch(v, node);
    switch (m) {
      case "tag":
        return node.tags.some(function (t) { return glob(v, t); });
      case "path":
      case "file":
        return pathMatch(v, node);
      case "source":
        if (node.type !== "source" || node.source === null) return false;
        var dot = v.indexOf(".");
        if (dot >= 0) return glob(v.slice(0, dot), node.source) && glob(v.slice(dot + 1), node.name);
        return glob(v, node.source);
      case "exposure":
        return node.type === "exposure" && glob(v, node.name);
      case "resource_type":
        if (g.resourceTypes.indexOf(v) < 0) {
          throw new SelectorError("unknown resource type `" + v + "`",
            "resource types: " + g.resourceTypes.join(", "));
        }
        return node.type === v;
      case "test_type":
        return node.type === "test" && node.testType === v;
      case "fqn":
        return fqnMatch(v, node);
      case "package":
        return node.fqn.length > 0 && glob(v, node.fqn[0]);
      default:
        var key = m.indexOf("config.") === 0 ? m.slice(7) : m;
        var value = configValue(g, node, key);
        if (value === undefined) return false;
        if (Array.isArray(value)) return value.some(function (i) { return jsonEq(i, v); });
        return jsonEq(value, v);
    }
  }

  // Nodes reached from `start` along `next` within `depth` steps (any when null).
  function walk(start, depth, next, out) {
    var seen = {};
    var frontier = [start];
    var level = 0;
    while (frontier.length > 0 && (depth === null || level < depth)) {
      var fresh = [];
      for (var a = 0; a < frontier.length; a++) {
        var edges = next[frontier[a]];
        for (var b = 0; b < edges.length; b++) {
          var m = edges[b];
          if (m !== start && !seen[m]) {
            seen[m] = true;
            fresh.push(m);
            out[m] = true;
          }
        }
      }
      frontier = fresh;
      level += 1;
    }
  }

  function widen(g, atom, base) {
    var out = {};
    var i;
    for (i in base) out[i] = true;
    for (i in base) {
      var n = +i;
      if (atom.parents !== undefined) walk(n, atom.parents, g.parents, out);
      if (atom.children !== undefined) walk(n, atom.children, g.children, out);
      if (atom.at) {
        var desc = {};
        walk(n, null, g.children, desc);
        for (var d in desc) {
          out[d] = true;
          walk(+d, null, g.parents, out);
        }
      }
    }
    return out;
  }

  // The nodes `text` selects, as a sorted array of indices; throws a SelectorError (with every
  // problem's message joined) when a part is malformed or matches nothing.
  function select(g, text) {
    var problems = [];
    var terms = text.split(/\s+/).filter(function (t) { return t !== ""; });
    var union = {};
    terms.forEach(function (term) {
      var atoms = [];
      term.split(",").filter(function (a) { return a !== ""; }).forEach(function (a) {
        try {
          atoms.push(parseAtom(a));
        } catch (e) {
          problems.push(e);
        }
      });
      var acc = null;
      var partsMatch = true;
      atoms.forEach(function (atom) {
        var base = {};
        var any = false;
        try {
          for (var i = 0; i < g.nodes.length; i++) {
            if (matches(g, atom, g.nodes[i])) {
              base[i] = true;
              any = true;
            }
          }
        } catch (e) {
          problems.push(e);
          partsMatch = false;
          return;
        }
        if (!any) {
          problems.push(new SelectorError("--select `" + atom.text + "` matches no node",
            "`strata ls` lists the nodes"));
          partsMatch = false;
          return;
        }
        var s = widen(g, atom, base);
        if (acc === null) {
          acc = s;
        } else {
          var both = {};
          for (var k in acc) if (s[k]) both[k] = true;
          acc = both;
        }
      });
      if (atoms.length > 0 && partsMatch && acc !== null && Object.keys(acc).length === 0) {
        problems.push(new SelectorError("--select `" + term + "` matches no node: each part " +
          "matches nodes, but no node matches all of them",
          "a comma means AND; to select nodes matching any part, separate them with a space"));
      }
      if (acc !== null) for (var k2 in acc) union[k2] = true;
    });
    if (problems.length > 0) {
      throw new SelectorError(problems.map(function (p) { return p.message; }).join("\n"),
        problems.map(function (p) { return p.help; }).filter(Boolean).join("\n"));
    }
    if (terms.length === 0) {
      for (var a = 0; a < g.nodes.length; a++) union[a] = true;
    }
    // Tests come with any node they test (eager indirect selection).
    for (var t = 0; t < g.nodes.length; t++) {
      if (g.nodes[t].type !== "test" || union[t]) continue;
      var ps = g.parents[t];
      for (var p = 0; p < ps.length; p++) {
        if (union[ps[p]]) {
          union[t] = true;
          break;
        }
      }
    }
    return Object.keys(union).map(Number).sort(function (x, y) { return x - y; });
  }

  return { select: select, parseAtom: parseAtom, glob: glob, SelectorError: SelectorError };
})();
