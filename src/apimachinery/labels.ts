import type { LabelRequirement, LabelSelector } from "./selector-ast.js";
import { badRequest } from "./status.js";
import { goQuote } from "./go-format.js";

/**
 * Label selectors as k8s.io/apimachinery/pkg/labels parses them: the same lexer, the same grammar and
 * the same error messages, so that `kubectl get -l '<bad>'` prints what it prints against a CRD.
 * The server answers a bad selector with 400 BadRequest carrying the parser's message verbatim.
 */

const enum Tok {
  Error,
  End,
  ClosedPar,
  Comma,
  DoesNotExist,
  DoubleEquals,
  Equals,
  GreaterThan,
  Identifier,
  In,
  LessThan,
  NotEquals,
  NotIn,
  OpenPar,
}

const SYMBOLS: Record<string, Tok> = {
  ")": Tok.ClosedPar,
  ",": Tok.Comma,
  "!": Tok.DoesNotExist,
  "==": Tok.DoubleEquals,
  "=": Tok.Equals,
  ">": Tok.GreaterThan,
  in: Tok.In,
  "<": Tok.LessThan,
  "!=": Tok.NotEquals,
  notin: Tok.NotIn,
  "(": Tok.OpenPar,
};

interface Item {
  tok: Tok;
  lit: string;
}

function isWhitespace(c: string): boolean {
  return c === " " || c === "\t" || c === "\r" || c === "\n";
}

function isSpecial(c: string): boolean {
  return c === "=" || c === "!" || c === "(" || c === ")" || c === "," || c === ">" || c === "<";
}

/** The Go lexer reads bytes and stops at a NUL byte as at the end of the string; so do we. */
function lex(s: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  const at = (i: number): string => (i < s.length ? s[i] : "\0");
  for (;;) {
    while (isWhitespace(at(pos))) pos++;
    const c = at(pos);
    if (c === "\0") {
      items.push({ tok: Tok.End, lit: "" });
      return items;
    }
    if (isSpecial(c)) {
      // Greedy: the longest run of symbols that is still a token ("!=", "==").
      let buf = "";
      let last: Item | undefined;
      while (isSpecial(at(pos))) {
        buf += at(pos);
        const t = SYMBOLS[buf];
        if (t !== undefined) {
          last = { tok: t, lit: buf };
          pos++;
        } else {
          break;
        }
      }
      items.push(last ?? { tok: Tok.Error, lit: `error expected: keyword found '${buf}'` });
      continue;
    }
    const start = pos;
    while (at(pos) !== "\0" && !isSpecial(at(pos)) && !isWhitespace(at(pos))) pos++;
    const lit = s.slice(start, pos);
    items.push({ tok: lit === "in" ? Tok.In : lit === "notin" ? Tok.NotIn : Tok.Identifier, lit });
  }
}

type GoOp = "exists" | "!" | "in" | "notin" | "=" | "==" | "!=" | "gt" | "lt";

class ParseError extends Error {}

class Parser {
  private pos = 0;
  constructor(private readonly items: Item[]) {}

  /** In a value position the keywords `in` and `notin` are plain identifiers. */
  private lookahead(values: boolean): Item {
    const it = this.items[this.pos];
    return values && (it.tok === Tok.In || it.tok === Tok.NotIn) ? { tok: Tok.Identifier, lit: it.lit } : it;
  }

  private consume(values: boolean): Item {
    const it = this.lookahead(values);
    this.pos++;
    return it;
  }

  parse(): LabelRequirement[] {
    const reqs: LabelRequirement[] = [];
    for (;;) {
      const { tok, lit } = this.lookahead(true);
      if (tok === Tok.Identifier || tok === Tok.DoesNotExist) {
        try {
          reqs.push(this.parseRequirement());
        } catch (e) {
          if (e instanceof ParseError) throw new ParseError(`unable to parse requirement: ${e.message}`);
          throw e;
        }
        const next = this.consume(true);
        if (next.tok === Tok.End) return reqs;
        if (next.tok !== Tok.Comma) {
          throw new ParseError(`found '${next.lit}', expected: ',' or 'end of string'`);
        }
        const after = this.lookahead(true);
        if (after.tok !== Tok.Identifier && after.tok !== Tok.DoesNotExist) {
          throw new ParseError(`found '${after.lit}', expected: identifier after ','`);
        }
      } else if (tok === Tok.End) {
        return reqs;
      } else {
        throw new ParseError(`found '${lit}', expected: !, identifier, or 'end of string'`);
      }
    }
  }

  private parseRequirement(): LabelRequirement {
    let op: GoOp | undefined;
    let it = this.consume(true);
    if (it.tok === Tok.DoesNotExist) {
      op = "!";
      it = this.consume(true);
    }
    if (it.tok !== Tok.Identifier) throw new ParseError(`found '${it.lit}', expected: identifier`);
    const key = it.lit;
    const keyErrs = labelKeyErrors(key);
    if (keyErrs.length > 0) throw new ParseError(fieldInvalid("<nil>", key, keyErrs.join("; ")));
    const la = this.lookahead(true).tok;
    if ((la === Tok.End || la === Tok.Comma) && op !== "!") op = "exists";
    if (op === "exists" || op === "!") return newRequirement(key, op, []);

    const opItem = this.consume(false);
    switch (opItem.tok) {
      case Tok.In:
        op = "in";
        break;
      case Tok.Equals:
        op = "=";
        break;
      case Tok.DoubleEquals:
        op = "==";
        break;
      case Tok.GreaterThan:
        op = "gt";
        break;
      case Tok.LessThan:
        op = "lt";
        break;
      case Tok.NotIn:
        op = "notin";
        break;
      case Tok.NotEquals:
        op = "!=";
        break;
      default:
        throw new ParseError(`found '${opItem.lit}', expected: in, notin, =, ==, !=, gt, lt`);
    }
    const values = op === "in" || op === "notin" ? this.parseValues() : this.parseExactValue();
    return newRequirement(key, op, [...values].sort(compareBytes));
  }

  private parseValues(): Set<string> {
    const open = this.consume(true);
    if (open.tok !== Tok.OpenPar) throw new ParseError(`found '${open.lit}' expected: '('`);
    const { tok, lit } = this.lookahead(true);
    if (tok === Tok.Identifier || tok === Tok.Comma) {
      const s = this.parseIdentifiersList();
      // The Go parser reports the token seen before the list here, not the offending one.
      if (this.consume(true).tok !== Tok.ClosedPar) throw new ParseError(`found '${lit}', expected: ')'`);
      return s;
    }
    if (tok === Tok.ClosedPar) {
      this.consume(true);
      return new Set([""]);
    }
    throw new ParseError(`found '${lit}', expected: ',', ')' or identifier`);
  }

  private parseIdentifiersList(): Set<string> {
    const s = new Set<string>();
    for (;;) {
      const { tok, lit } = this.consume(true);
      if (tok === Tok.Identifier) {
        s.add(lit);
        const next = this.lookahead(true);
        if (next.tok === Tok.Comma) continue;
        if (next.tok === Tok.ClosedPar) return s;
        throw new ParseError(`found '${next.lit}', expected: ',' or ')'`);
      } else if (tok === Tok.Comma) {
        if (s.size === 0) s.add("");
        const next = this.lookahead(true).tok;
        if (next === Tok.ClosedPar) {
          s.add("");
          return s;
        }
        if (next === Tok.Comma) {
          this.consume(true);
          s.add("");
        }
      } else {
        throw new ParseError(`found '${lit}', expected: ',', or identifier`);
      }
    }
  }

  private parseExactValue(): Set<string> {
    const la = this.lookahead(true).tok;
    if (la === Tok.End || la === Tok.Comma) return new Set([""]);
    const { tok, lit } = this.consume(true);
    if (tok === Tok.Identifier) return new Set([lit]);
    throw new ParseError(`found '${lit}', expected: identifier`);
  }
}

function newRequirement(key: string, op: GoOp, values: string[]): LabelRequirement {
  const errs: string[] = [];
  if (op === "gt" || op === "lt") {
    values.forEach((v, i) => {
      if (parseInt64(v) === undefined) {
        errs.push(fieldInvalid(`values[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"));
      }
    });
  }
  values.forEach((v, i) => {
    const ve = labelValueErrors(v);
    if (ve.length > 0) errs.push(fieldInvalid(`values[${i}][${key}]`, v, ve.join("; ")));
  });
  if (errs.length > 0) throw new ParseError(aggregate(errs));
  switch (op) {
    case "exists":
    case "!":
      return { key, op };
    case "=":
    case "==":
      return { key, op: "=", value: values[0] };
    case "!=":
      return { key, op: "!=", value: values[0] };
    case "in":
    case "notin":
      return { key, op, values };
    case "gt":
    case "lt":
      return { key, op, value: parseInt64(values[0])! };
  }
}

// ---- integers, as Go's strconv.ParseInt(s, 10, 64) reads them ----

/** An optional sign and decimal digits: no spaces, no "_", no "0x", unlike JS's Number() and BigInt(). */
const INT_RE = /^[+-]?[0-9]+$/;
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** `strconv.ParseInt(s, 10, 64)`: the value, or undefined where Go returns an error (syntax or range). */
export function parseInt64(s: string): bigint | undefined {
  if (!INT_RE.test(s)) return undefined;
  const n = BigInt(s);
  return n >= INT64_MIN && n <= INT64_MAX ? n : undefined;
}

/**
 * A label value as `k>n`/`k<n` compare it (Requirement.Matches): undefined when ParseInt fails.
 * Up to 15 characters it is a number, exact below 2^53 and compared exactly with the bigint n; only
 * longer values pay for a bigint.
 */
function labelInt(v: string): number | bigint | undefined {
  if (v.length <= 15) return INT_RE.test(v) ? Number(v) : undefined;
  return parseInt64(v);
}

/** `field.ErrorList.ToAggregate().Error()`: one message as is, several de-duplicated in brackets. */
function aggregate(msgs: string[]): string {
  const uniq = [...new Set(msgs)];
  return uniq.length === 1 ? uniq[0] : `[${uniq.join(", ")}]`;
}

/** `field.Invalid(path, value, detail).Error()`. */
function fieldInvalid(path: string, value: string, detail: string): string {
  return `${path}: Invalid value: ${goQuote(value)}: ${detail}`;
}

/** Go compares strings bytewise; for the ASCII of label values that is the code unit order. */
function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byteLength(s: string): number {
  return s.length * 3 <= 63 ? s.length : Buffer.byteLength(s);
}

// ---- validation of label keys and values (k8s.io/apimachinery/pkg/util/validation) ----

const QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QNAME_RE = new RegExp(`^${QNAME_FMT}$`);
const QNAME_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QNAME_EXAMPLES =
  "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '" + QNAME_FMT + "')";
const DNS1123_SUBDOMAIN_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_RE = new RegExp(`^${DNS1123_SUBDOMAIN_FMT}$`);
const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '" +
  DNS1123_SUBDOMAIN_FMT +
  "')";
const LABEL_VALUE_FMT = `(${QNAME_FMT})?`;
const LABEL_VALUE_RE = new RegExp(`^${LABEL_VALUE_FMT}$`);
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '" +
  LABEL_VALUE_FMT +
  "')";

/** What is wrong with a label key (a qualified name: `[prefix/]name`), in the API server's words. */
export function labelKeyErrors(key: string): string[] {
  const errs: string[] = [];
  const parts = key.split("/");
  let name: string;
  if (parts.length === 1) {
    name = parts[0];
  } else if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1];
    if (prefix.length === 0) {
      errs.push("prefix part must be non-empty");
    } else {
      if (byteLength(prefix) > 253) errs.push("prefix part must be no more than 253 characters");
      if (!DNS1123_SUBDOMAIN_RE.test(prefix)) errs.push("prefix part " + DNS1123_SUBDOMAIN_MSG);
    }
  } else {
    return [
      `a qualified name ${QNAME_MSG} ${QNAME_EXAMPLES} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push("name part must be non-empty");
  else if (byteLength(name) > 63) errs.push("name part must be no more than 63 characters");
  if (!QNAME_RE.test(name)) errs.push(`name part ${QNAME_MSG} ${QNAME_EXAMPLES}`);
  return errs;
}

/** What is wrong with a label value (at most 63 characters, empty allowed). */
export function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > 63) errs.push("must be no more than 63 characters");
  if (!LABEL_VALUE_RE.test(value)) errs.push(LABEL_VALUE_MSG);
  return errs;
}

// ---- the public API ----

/**
 * Parses a `labelSelector` query parameter. The empty string selects everything (an empty list).
 * Requirements come back sorted by key, as the API server sorts them; `==` becomes `=`.
 * Throws a 400 StatusError with the API server's message on invalid input.
 */
export function parseLabelSelector(s: string): LabelSelector {
  if (s === "") return [];
  let reqs: LabelRequirement[];
  try {
    reqs = new Parser(lex(s)).parse();
  } catch (e) {
    if (e instanceof ParseError) throw badRequest(e.message);
    throw e;
  }
  // A stable sort keeps requirements on the same key in the order they were written.
  return reqs.sort((a, b) => compareBytes(a.key, b.key));
}

/**
 * Whether labels satisfy every requirement. `!=` and `notin` match when the key is absent, as in
 * Kubernetes; `>` and `<` match only a value that is an int64. Runs once per object in lists and
 * watches, so it avoids allocation.
 */
export function matchLabels(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  for (let i = 0; i < sel.length; i++) {
    const r = sel[i];
    // typeof guards against keys like "constructor" that an object inherits.
    const v = labels === undefined ? undefined : labels[r.key];
    const has = typeof v === "string";
    switch (r.op) {
      case "=":
        if (!has || v !== r.value) return false;
        break;
      case "!=":
        if (has && v === r.value) return false;
        break;
      case "in":
        if (!has || !r.values.includes(v)) return false;
        break;
      case "notin":
        if (has && r.values.includes(v)) return false;
        break;
      case "exists":
        if (!has) return false;
        break;
      case "!":
        if (has) return false;
        break;
      case "gt":
      case "lt": {
        // The label must be there and be an int64 itself; otherwise no match (not an error).
        const n = has ? labelInt(v) : undefined;
        if (n === undefined || (r.op === "gt" ? !(n > r.value) : !(n < r.value))) return false;
        break;
      }
    }
  }
  return true;
}

/** The canonical text of a selector, as `labels.Selector.String()` writes it. */
export function formatLabelSelector(sel: LabelSelector): string {
  return sel.map(formatRequirement).join(",");
}

function formatRequirement(r: LabelRequirement): string {
  switch (r.op) {
    case "exists":
      return r.key;
    case "!":
      return `!${r.key}`;
    case "=":
    case "!=":
      return `${r.key}${r.op}${r.value}`;
    case "in":
    case "notin":
      return `${r.key} ${r.op} (${[...r.values].sort(compareBytes).join(",")})`;
    case "gt":
      // The number, not the text as written: `a>007` comes back as `a>7`, the same selector.
      return `${r.key}>${r.value}`;
    case "lt":
      return `${r.key}<${r.value}`;
  }
}
