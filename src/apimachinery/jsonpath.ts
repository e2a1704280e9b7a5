/**
 * The JSONPath of CRD printer columns, with the semantics of k8s.io/client-go/util/jsonpath as the
 * CRD table convertor uses it (AllowMissingKeys): fields `.a.b` (a `\.` escapes a dot), `.*`,
 * `['key']` (whose content is itself read as dotted fields, hence `['a\.b/c']`), `[N]` with negative
 * indices, `[start:end:step]` and `[*]`. Recursive descent, filters and unions are rejected when
 * compiling. Evaluation never throws: a missing key or a type mismatch yields no results.
 */

type Step =
  | { kind: "field"; name: string }
  | { kind: "wildcard" }
  | { kind: "slice"; start?: number; end?: number; step?: number; derivedEnd: boolean };

export type JsonPathEvaluator = (obj: unknown) => unknown[];

const TERMINATORS = new Set([" ", "\t", "\r", "\n", ".", ",", "[", "]", "$", "@", "{", "}"]);
const SLICE = /^(-?\d*)(:-?\d*)?(:-?\d*)?$/;
const DICT_KEY = /^'([^']*)'$/;

function parseSteps(path: string): Step[] {
  let src = path.trim();
  if (src.startsWith("{") && src.endsWith("}")) src = src.slice(1, -1);
  const steps: Step[] = [];
  let pos = 0;
  while (pos < src.length) {
    const c = src[pos];
    if (c === " " || c === "$" || c === "@") {
      pos++;
    } else if (src.startsWith("..", pos)) {
      throw new Error(`unsupported recursive descent in ${path}`);
    } else if (src.startsWith("[?(", pos)) {
      throw new Error(`unsupported filter in ${path}`);
    } else if (c === ".") {
      pos++;
      let raw = "";
      while (pos < src.length && !TERMINATORS.has(src[pos])) {
        if (src[pos] === "\\" && pos + 1 < src.length) raw += src[pos++];
        raw += src[pos++];
      }
      if (raw === "*") steps.push({ kind: "wildcard" });
      else if (raw !== "") steps.push({ kind: "field", name: raw.replaceAll("\\", "") });
    } else if (c === "[") {
      const end = src.indexOf("]", pos);
      const nl = src.indexOf("\n", pos);
      if (end < 0 || (nl >= 0 && nl < end)) throw new Error(`unterminated array in ${path}`);
      let text = src.slice(pos + 1, end);
      pos = end + 1;
      if (text === "*") text = ":";
      if (text.includes(",")) throw new Error(`unsupported union in ${path}`);
      const dict = DICT_KEY.exec(text);
      if (dict !== null) {
        steps.push(...parseSteps(`.${dict[1]}`));
        continue;
      }
      steps.push(parseSlice(text, path));
    } else {
      throw new Error(`unrecognized character in action: ${JSON.stringify(c)} in ${path}`);
    }
  }
  return steps;
}

function parseSlice(text: string, path: string): Step {
  const m = SLICE.exec(text);
  if (m === null) throw new Error(`invalid array index ${text} in ${path}`);
  const num = (s: string | undefined): number | undefined =>
    s === undefined || s === "" ? undefined : Number(s);
  const start = num(m[1]);
  if (m[2] === undefined) {
    // `[i]` is the slice `[i:i+1]`, where an end of 0 (i = -1) means the end of the array.
    return { kind: "slice", start, end: (start ?? 0) + 1, derivedEnd: true };
  }
  return { kind: "slice", start, end: num(m[2].slice(1)), step: num(m[3]?.slice(1)), derivedEnd: false };
}

/** One step over every current value; undefined is an error (the whole path then yields nothing). */
function apply(step: Step, input: unknown[]): unknown[] | undefined {
  const out: unknown[] = [];
  for (const v of input) {
    if (v === null || v === undefined) continue;
    if (step.kind === "field") {
      if (typeof v === "object" && !Array.isArray(v) && Object.hasOwn(v, step.name)) {
        const x = (v as Record<string, unknown>)[step.name];
        // undefined never comes from JSON; an object built in code means "absent" by it.
        if (x !== undefined) out.push(x);
      }
    } else if (step.kind === "wildcard") {
      if (Array.isArray(v)) out.push(...v);
      else if (typeof v === "object") out.push(...Object.values(v));
    } else {
      if (!Array.isArray(v)) return undefined;
      const len = v.length;
      let start = step.start ?? 0;
      if (start < 0) start += len;
      let end = step.end ?? len;
      if (end < 0 || (end === 0 && step.derivedEnd)) end += len;
      if (end === start) continue;
      if (start >= len || start < 0 || end > len || end < 0 || start > end) return undefined;
      const by = step.step ?? 1;
      if (by <= 0) return undefined;
      for (let i = start; i < end; i += by) out.push(v[i]);
    }
  }
  return out;
}

/** Compiles a printer-column path once; the evaluator runs per row. Throws on unsupported syntax. */
export function compileJsonPath(path: string): JsonPathEvaluator {
  const steps = parseSteps(path);
  const names = fieldNames(steps);
  if (names !== undefined) {
    return (obj: unknown): unknown[] => {
      const v = walkFields(obj, names);
      return v === undefined ? [] : [v];
    };
  }
  return (obj: unknown): unknown[] => {
    let cur: unknown[] | undefined = [obj];
    for (let i = 0; i < steps.length && cur !== undefined && cur.length > 0; i++) cur = apply(steps[i], cur);
    return cur ?? [];
  };
}

/**
 * The first value a path selects, or undefined: what a table cell shows. Paths made of plain
 * fields (every printer column of the served kinds) walk the object without allocating.
 */
export function compileJsonPathFirst(path: string): (obj: unknown) => unknown {
  const steps = parseSteps(path);
  const names = fieldNames(steps);
  if (names !== undefined) return (obj: unknown): unknown => walkFields(obj, names);
  const all = compileJsonPath(path);
  return (obj: unknown): unknown => all(obj)[0];
}

function fieldNames(steps: Step[]): string[] | undefined {
  const names: string[] = [];
  for (const s of steps) {
    if (s.kind !== "field") return undefined;
    names.push(s.name);
  }
  return names;
}

function walkFields(obj: unknown, names: string[]): unknown {
  let cur = obj;
  for (let i = 0; i < names.length; i++) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur) || !Object.hasOwn(cur, names[i])) {
      return undefined;
    }
    cur = (cur as Record<string, unknown>)[names[i]];
  }
  return cur;
}

const cache = new Map<string, JsonPathEvaluator>();

/** Every value the path selects in `obj`; [] when nothing matches or the path is unsupported. */
export function evalJsonPath(obj: unknown, path: string): unknown[] {
  let fn = cache.get(path);
  if (fn === undefined) {
    try {
      fn = compileJsonPath(path);
    } catch {
      fn = () => [];
    }
    if (cache.size >= 256) cache.clear();
    cache.set(path, fn);
  }
  return fn(obj);
}
