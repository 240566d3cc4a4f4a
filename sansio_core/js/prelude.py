"""The JavaScript every target context starts with: the only bridge to the host.

User code sees ``console`` (lines are buffered in the context and read by
``JsEngine.debug_log``, never printed), ``process.env`` (a frozen copy of the
environment mapping the binding passed in) and a ``require`` that explains why
it cannot load anything. Nothing else of the host is reachable: QuickJS has no
file, network or timer APIs unless a host adds them, and this host adds no
Python callables at all (QuickJS refuses them under a time limit anyway).

The helpers below the shim are how values cross: arguments arrive as strings
or numbers (objects as JSON text, parsed here), results leave as primitives
or as a small holder object that Python reads with one ``JSON.stringify``.
"""

from __future__ import annotations

PRELUDE = r"""
(function (g) {
  "use strict";
  const logMax = g.__pw_log_lines;
  const logChars = g.__pw_log_chars;
  delete g.__pw_log_lines;
  delete g.__pw_log_chars;
  let logLines = [];
  const hostLog = (level, text) => {
    if (text.length > logChars) text = text.slice(0, logChars) + "...";
    logLines.push("[" + level + "] " + text);
    if (logLines.length > logMax) logLines.splice(0, logLines.length - logMax);
  };
  const fixed = (name, value) => Object.defineProperty(g, name, {
    value: value, writable: false, configurable: false, enumerable: false,
  });
  fixed("__pw_drain_log", function () {
    const lines = logLines;
    logLines = [];
    return JSON.stringify(lines);
  });
  const envText = g.__pw_env_json;
  delete g.__pw_env_json;

  const show = (v) => {
    if (typeof v === "string") return v;
    if (v instanceof Error) return String(v);
    try {
      const s = JSON.stringify(v);
      return s === undefined ? String(v) : s;
    } catch (e) {
      return String(v);
    }
  };
  const logger = (level) => function () {
    const parts = [];
    for (let i = 0; i < arguments.length; i++) parts.push(show(arguments[i]));
    hostLog(level, parts.join(" "));
  };
  fixed("console", Object.freeze({
    log: logger("log"), info: logger("info"), warn: logger("warn"),
    error: logger("error"), debug: logger("debug"), trace: logger("trace"),
  }));

  const env = Object.freeze(JSON.parse(envText));
  fixed("process", Object.freeze({
    env: env, argv: Object.freeze([]), platform: "promptwire",
    versions: Object.freeze({}), cwd: function () { return "."; },
  }));

  fixed("require", function (name) {
    throw new Error("require(" + JSON.stringify(String(name)) +
      ") is not available: promptwire runs transforms without host modules");
  });

  // The clock user code sees (Date.now(), new Date()) is the call's wall time,
  // which the host sets as __pw_clock_ms before a call (JsEngine.set_clock), so
  // a replayed call sees the recorded time. Without it, the real clock.
  const RealDate = Date;
  const nowMs = () => {
    const c = g.__pw_clock_ms;
    return typeof c === "number" ? c : RealDate.now();
  };
  function PwDate() {
    if (!new.target) return new RealDate(nowMs()).toString();
    const args = arguments.length === 0 ? [nowMs()] : Array.prototype.slice.call(arguments);
    return Reflect.construct(RealDate, args, new.target);
  }
  PwDate.prototype = RealDate.prototype;
  PwDate.now = nowMs;
  PwDate.parse = RealDate.parse;
  PwDate.UTC = RealDate.UTC;
  Object.defineProperty(RealDate.prototype, "constructor", { value: PwDate, writable: true, configurable: true });
  g.Date = PwDate;

  const fns = [];

  // Results and errors become plain text here, inside the call, so a getter,
  // a toJSON or a toString runs under the call's time and memory limits.
  // Python never calls back into a user object (its JSON.stringify or
  // toString would run with no limit at all).
  // Strings cross as C strings, so one holding NUL goes as a holder too.
  const MARK = "\ufdd0pw:";
  // A lone surrogate cannot leave QuickJS as UTF-8 (and a NUL would end a C
  // string): such strings leave as JSON, whose stringify escapes both.
  const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
  const LONE_ALL = new RegExp(LONE.source, "g");
  const pack = (h) => {
    if (typeof h === "string") {
      return h.startsWith(MARK) || h.indexOf("\u0000") >= 0 || LONE.test(h)
        ? MARK + JSON.stringify({ k: "v", v: h }) : h;
    }
    if (h === null || typeof h !== "object") return h;
    return MARK + JSON.stringify(h);
  };
  const printable = (text) => (LONE.test(text) ? text.replace(LONE_ALL, "\ufffd") : text);
  const describe = (e) => {
    if (typeof e === "string") return printable(e);
    try {
      return printable(String(e));
    } catch (x) {
      // Out of memory, String(e) cannot allocate either: name it from the
      // error's own (already allocated) message, so the engine reports the
      // memory limit rather than an unprintable value.
      // (QuickJS throws null when it cannot even allocate that error.)
      try {
        if (x === null || (e instanceof InternalError && e.message === "out of memory")) {
          return "InternalError: out of memory";
        }
      } catch (y) {
        // a hostile message getter: fall through
      }
      return "a thrown value that cannot be shown as text";
    }
  };

  // One holder shape for every non-primitive result:
  // k = "u" undefined, "v" a value (p: has an output or error key), "e" an Error.
  const out = (r) => {
    const t = typeof r;
    if (t === "string" || t === "number" || t === "boolean" || r === null) return r;
    if (r === undefined) return { k: "u" };
    if (t === "bigint") return Number(r);
    if (r instanceof Error) return { k: "e", v: String(r) };
    if (t === "function") return { k: "v", v: "[Function " + (r.name || "anonymous") + "]" };
    if (t === "object" && typeof r.then === "function") return { k: "p" };
    const pr = t === "object" && !Array.isArray(r) && ("output" in r || "error" in r);
    return { k: "v", p: pr, v: r };
  };

  // A context object parsed from JSON only when user code first touches it:
  // most transforms never read `context`, and parsing it is a third of a call.
  const lazy = (text, data) => {
    let value = null;
    const real = () => {
      if (value === null) {
        value = JSON.parse(text);
        if (data !== undefined && value.response) value.response.data = data;
      }
      return value;
    };
    return new Proxy({}, {
      get: (t, k) => real()[k],
      has: (t, k) => k in real(),
      set: (t, k, v) => { real()[k] = v; return true; },
      ownKeys: () => Reflect.ownKeys(real()),
      getOwnPropertyDescriptor: (t, k) => {
        const d = Reflect.getOwnPropertyDescriptor(real(), k);
        if (d) d.configurable = true;
        return d;
      },
    });
  };

  let pending = null;
  // `finish` turns the settled value into what the host reads (a packed result).
  const settle = (r, finish) => {
    const s = { done: false };
    pending = s;
    const failed = function (e) { s.done = true; s.failed = true; s.error = e; };
    // The value is packed before `done` is set: a getter that is interrupted
    // rejects the chained promise, which records the interruption.
    r.then(function (v) { const value = finish(v); s.value = value; s.done = true; }, failed)
      .then(undefined, failed);
  };
  const packed = (v) => pack(out(v));
  const raw = [];

  fixed("__pw_define", function (index, make, label) {
    let fn;
    try {
      fn = make();
    } catch (e) {
      throw describe(e);
    }
    if (typeof fn !== "function") {
      throw new TypeError(label + " is not a function");
    }
    raw[index] = fn;
    const call = function (flags, a, b, c, d) {
      if (flags & 1) a = JSON.parse(a);
      if (flags & 2) b = JSON.parse(b);
      if (flags & 4) c = JSON.parse(c);
      if (flags & 8) d = JSON.parse(d);
      if (flags & 16) a = (function () { try { return JSON.parse(b) || null; } catch (e) { return null; } })();
      if (flags & 64) c = lazy(c, flags & 32 ? (a !== null ? a : b) : undefined);
      else if (flags & 32) c.response.data = a !== null ? a : b;
      const r = fn(a, b, c, d);
      if (r !== null && typeof r === "object" && typeof r.then === "function") {
        settle(r, packed);
        return MARK + '{"k":"p"}';
      }
      return pack(out(r));
    };
    fns[index] = function (flags, a, b, c, d) {
      try {
        return call(flags, a, b, c, d);
      } catch (e) {
        throw describe(e);
      }
    };
    return fns[index];
  });

  fixed("__pw_settled", function () {
    const s = pending;
    pending = null;
    if (s === null || !s.done) return MARK + '{"k":"n"}';
    if (s.failed) throw describe(s.error);
    return s.value;
  });

  // WebSocket streamResponse sessions (js/stream.py): one call's accumulator
  // and context stay here as live values from its first frame to its last,
  // under a token. A frame brings only its payload (kind: 1 binary frame,
  // 2 payload is JSON text, -1 end the session) and takes back only what the
  // host needs: null, a text delta, or a holder (k "c": complete, with the
  // accumulator as the old JSON round trip showed it; k "x": not an array).
  // What Python sees stays what `JSON.stringify([accumulator, complete])`
  // showed it per frame before: the helpers below keep those rules.
  const streams = new Map();
  let lastToken = 0;
  const ownEnum = Object.prototype.propertyIsEnumerable;
  const isArray = Array.isArray;
  // A value as JSON.stringify shows it inside an array (toJSON, wrappers; undefined -> null).
  const asJson = (v) => JSON.parse(JSON.stringify([v]))[0];
  // Text that crosses as a C string; NUL, the mark or a lone surrogate go as a holder.
  const text = (d) => (d.startsWith(MARK) || d.indexOf("\u0000") >= 0 || LONE.test(d)
    ? MARK + JSON.stringify({ k: "v", v: d }) : d);
  const flagOf = (c) => {
    const t = typeof c;
    if ((t === "object" && c !== null) || t === "bigint") return !!asJson(c);
    if (t === "function" || t === "symbol") return false;
    if (t === "number") return c !== 0 && Number.isFinite(c);
    return !!c;
  };
  const outputOf = (a) => {
    if (a === null || typeof a !== "object" || isArray(a)) return undefined;
    if (typeof a.toJSON === "function") {
      a = asJson(a);
      return a !== null && typeof a === "object" && !isArray(a) ? a.output : undefined;
    }
    return ownEnum.call(a, "output") ? a.output : undefined;
  };
  // What Python's `_kind` printed for a value that is not [result, complete].
  const kindOf = (r) => {
    if (r === null) return "null";
    const t = typeof r;
    if (t === "undefined" || t === "symbol") return "undefined";
    if (t === "string" || t === "function" || r instanceof Error) return "str";
    if (t === "boolean") return "bool";
    if (t === "number" || t === "bigint") {
      const n = Number(r);
      return Number.isInteger(n) && Math.abs(n) <= 9007199254740992 ? "int" : "float";
    }
    return "an object";
  };
  const stepped = (slot, r) => {
    if (r !== null && typeof r === "object" && !isArray(r) && !(r instanceof Error)) {
      // An object where the pair belongs reads as its JSON did (a toJSON may even give the pair).
      r = JSON.parse(JSON.stringify({ v: r })).v;
    }
    if (!isArray(r)) return MARK + JSON.stringify({ k: "x", t: kindOf(r) });
    const acc = r.length > 0 ? r[0] : undefined;
    if (r.length > 1 && flagOf(r[1])) {
      slot.acc = undefined;
      return MARK + JSON.stringify({ k: "c", v: r.length > 0 ? [acc] : [] });
    }
    slot.acc = acc;
    const o = outputOf(acc);
    const seen = slot.out;
    const n = seen.length;
    if (typeof o !== "string" || o.length <= n || !o.startsWith(seen)) return null;
    // Python compares code points: a pair split at the old end is no extension.
    if (n > 0 && (seen.charCodeAt(n - 1) & 0xfc00) === 0xd800 && (o.charCodeAt(n) & 0xfc00) === 0xdc00) return null;
    slot.out = o;
    return text(o.slice(n));
  };
  fixed("__pw_stream_open", function (index, contextText, initialText) {
    lastToken += 1;
    streams.set(lastToken, { fn: raw[index], acc: JSON.parse(initialText), ctx: JSON.parse(contextText), out: "" });
    return lastToken;
  });
  fixed("__pw_stream_step", function (token, kind, payload) {
    const slot = streams.get(token);
    if (kind < 0 || slot === undefined) {
      streams.delete(token);
      return streams.size;
    }
    try {
      const data = kind & 2 ? JSON.parse(payload) : payload;
      const fn = slot.fn; // called bare, as hooks are: `this` is not the slot
      const r = fn(slot.acc, { type: "message", data: data, isBinary: (kind & 1) === 1 }, slot.ctx, undefined);
      if (r !== null && typeof r === "object" && typeof r.then === "function") {
        settle(r, (v) => stepped(slot, v));
        return MARK + '{"k":"p"}';
      }
      return stepped(slot, r);
    } catch (e) {
      throw describe(e);
    }
  });

  fixed("__pw_pick", function (cjs, esm, name, path) {
    const fnOf = (v) => (typeof v === "function" ? v : undefined);
    const at = (o, key) => (o !== null && (typeof o === "object" || typeof o === "function") ? o[key] : undefined);
    let found;
    if (name === null) {
      found = fnOf(esm.default) || fnOf(cjs) || fnOf(at(cjs, "default"));
    } else {
      found = fnOf(esm[name]) || fnOf(at(cjs, name)) || fnOf(at(esm.default, name)) ||
        fnOf(at(at(cjs, "default"), name));
    }
    if (found === undefined) {
      throw new TypeError(path + (name === null ? "" : ":" + name) +
        " must export a function or have a default export as a function");
    }
    return found;
  });

  // Lockdown, last: every intrinsic reachable from the global object (and the
  // hidden ones: iterator, generator and async-function prototypes) is frozen
  // and every global binding made read-only, so one call cannot change what
  // `JSON.parse`, `Object.prototype.then` or `Array.prototype.map` mean for
  // the next. New globals stay allowed (module state, counters).
  // The "override mistake" is avoided as SES does: a writable method or name
  // on a frozen prototype becomes an accessor whose setter gives the object
  // its own property, so `this.name = "MyError"` in an Error subclass and
  // `Foo.prototype.toString = ...` keep working.
  const overridable = ["constructor", "name", "message", "toString", "toLocaleString", "valueOf", "toJSON"];
  const enableOverride = (obj, key) => {
    const d = Object.getOwnPropertyDescriptor(obj, key);
    if (d === undefined || !("value" in d) || !d.writable || !d.configurable) return;
    const value = d.value;
    // Methods (not `function`s): they have no `.prototype` of their own to freeze.
    Object.defineProperty(obj, key, {
      get() { return value; },
      set(v) {
        if (this === obj) {
          throw new TypeError("Cannot assign to read only property '" + key + "' of a built-in");
        }
        Object.defineProperty(this, key, { value: v, writable: true, enumerable: true, configurable: true });
      },
      enumerable: d.enumerable,
      configurable: false,
    });
  };
  const seen = new Set([g]); // the global object itself stays extensible
  const todo = [
    Object.getPrototypeOf(function* () {}),
    Object.getPrototypeOf(async function () {}),
    Object.getPrototypeOf(async function* () {}),
    Object.getPrototypeOf([][Symbol.iterator]()),
    Object.getPrototypeOf(""[Symbol.iterator]()),
    Object.getPrototypeOf(new Map()[Symbol.iterator]()),
    Object.getPrototypeOf(new Set()[Symbol.iterator]()),
    Object.getPrototypeOf(/x/[Symbol.matchAll]("")),
  ];
  for (const key of Reflect.ownKeys(g)) {
    const d = Object.getOwnPropertyDescriptor(g, key);
    if ("value" in d) {
      todo.push(d.value);
      if (d.configurable) Object.defineProperty(g, key, { writable: false, configurable: false });
    }
  }
  todo.push(Object.getPrototypeOf(g));
  while (todo.length > 0) {
    const o = todo.pop();
    if (o === null || (typeof o !== "object" && typeof o !== "function") || seen.has(o)) continue;
    seen.add(o);
    for (const key of overridable) enableOverride(o, key);
    Object.freeze(o);
    todo.push(Object.getPrototypeOf(o));
    for (const key of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, key);
      if ("value" in d) todo.push(d.value);
      else todo.push(d.get, d.set);
    }
  }
})(globalThis);
"""

__all__ = ["PRELUDE"]
