/**
 * JSON.parse keeps the last of repeated keys silently; the real server's strict decoder reports each
 * repeat as `duplicate field "<path>"`. One pass over the raw text, no allocation per value.
 */

interface Frame {
  isArray: boolean;
  path: string;
  index: number;
  keys?: Set<string>;
  /** The path of the value about to be read in this object (set after its key). */
  childPath: string;
}

/** Paths of repeated object keys, in document order (`metadata.name`, `spec.ports[0].hostPort`). */
export function findDuplicateFields(text: string): string[] {
  const dups: string[] = [];
  const stack: Frame[] = [];
  let i = 0;
  // Only JSON objects are scanned; a YAML body (apply patches may be YAML) is not this scanner's to read.
  while (i < text.length && /\s/.test(text[i])) i++;
  if (text[i] !== "{") return dups;
  const n = text.length;
  // After a string inside an object, we need to know whether it was a key: keys are followed by ':'.
  let expectKey = false;
  const pathForNextValue = (): string => {
    const top = stack[stack.length - 1];
    if (!top) return "";
    return top.isArray ? `${top.path}[${top.index}]` : top.childPath;
  };
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i + 1;
      let escaped = false;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) {
          escaped = true;
          i += 2;
          continue;
        }
        if (d === 0x22) break;
        i++;
      }
      if (expectKey) {
        const raw = text.slice(start, i);
        let key = raw;
        if (escaped) {
          try {
            key = JSON.parse(`"${raw}"`) as string;
          } catch {
            return dups;
          }
        }
        const top = stack[stack.length - 1];
        top.childPath = top.path ? `${top.path}.${key}` : key;
        if (top.keys!.has(key)) dups.push(top.childPath);
        else top.keys!.add(key);
        expectKey = false;
      }
      i++;
      continue;
    }
    if (c === 0x7b /* { */) {
      stack.push({ isArray: false, path: pathForNextValue(), index: 0, keys: new Set(), childPath: "" });
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push({ isArray: true, path: pathForNextValue(), index: 0, childPath: "" });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.isArray) top.index++;
      else if (top) expectKey = true;
    }
    i++;
  }
  return dups;
}
