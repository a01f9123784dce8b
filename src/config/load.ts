// Reading xbr.yaml: YAML syntax, then the schema (schema.ts), then the semantic checks
// (validate.ts). A config is refused as a whole with *every* problem listed, one per
// line, as "file:line:col: key.path: reason" (DESIGN.md: "a malformed config is
// refused with the file, the key and why, and the running config stays").
import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { configSchema, type XbrConfig } from './schema.js';
import { formatPath, validateConfig, type ConfigPath } from './validate.js';

export interface LocatedIssue {
  file: string;
  /** 1-based; absent when the YAML has no node to point at. */
  line?: number;
  column?: number;
  /** Key path as text, e.g. "rules[1].ea-len"; "(yaml)" for syntax errors. */
  path: string;
  message: string;
}

export function formatIssue(i: LocatedIssue): string {
  const where = i.line !== undefined ? `${i.file}:${i.line}:${i.column}` : i.file;
  return `${where}: ${i.path}: ${i.message}`;
}

/** A refused configuration. `message` has one line per issue. */
export class ConfigError extends Error {
  readonly issues: LocatedIssue[];
  constructor(issues: LocatedIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Reads, parses and validates a config file; throws ConfigError. */
export function loadConfig(path: string): XbrConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new ConfigError([{ file: path, path: '(file)', message: `cannot read the file (${code})` }]);
  }
  return parseConfig(text, path);
}

/** Parses and validates config text; `fileName` only names it in errors. */
export function parseConfig(text: string, fileName: string): XbrConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({ file: fileName, ...at(e.pos[0]), path: '(yaml)', message: e.message.split('\n')[0] })),
    );
  }
  const located = (path: ConfigPath, message: string, keyNode = false): LocatedIssue => {
    const offset = locate(doc, path, keyNode);
    return { file: fileName, ...(offset !== undefined ? at(offset) : {}), path: formatPath(path), message };
  };

  const data: unknown = doc.toJS() ?? {};
  const parsed = configSchema.safeParse(data, { error: issueMessage });
  if (!parsed.success) {
    const issues: LocatedIssue[] = [];
    for (const issue of parsed.error.issues) {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      if (issue.code === 'unrecognized_keys') {
        // One line per unknown key, pointing at the key itself.
        for (const key of issue.keys) issues.push(located([...path, key], 'unknown key', true));
      } else {
        issues.push(located(path, issue.message));
      }
    }
    throw new ConfigError(issues);
  }
  const semantic = validateConfig(parsed.data);
  if (semantic.length > 0) throw new ConfigError(semantic.map((i) => located(i.path, i.message)));
  return parsed.data;
}

/** zod error map: short reasons in the operator's terms. */
function issueMessage(iss: z.core.$ZodRawIssue): string | undefined {
  // A missing key reaches zod as `undefined`, whatever the expected kind.
  if (iss.input === undefined && (iss.code === 'invalid_type' || iss.code === 'invalid_value')) return 'required';
  switch (iss.code) {
    case 'invalid_type':
      return `expected ${iss.expected}, got ${describe(iss.input)}`;
    case 'invalid_value':
      return `must be one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      if (iss.origin === 'array') return `needs at least ${iss.minimum} entr${Number(iss.minimum) === 1 ? 'y' : 'ies'}`;
      if (iss.origin === 'string') return 'must not be empty';
      return `must be >= ${iss.minimum}`;
    case 'too_big':
      return `must be <= ${iss.maximum}`;
    default:
      return undefined; // zod's own message (custom refinements carry theirs)
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number' && !Number.isInteger(v)) return `${v} (not an integer)`;
  return `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * The source offset of the node at `path`: its value, or with `keyNode` its key. When
 * the path does not exist (a missing key), where its parent is named: the parent's
 * key ("api:" for api.token-file), a list item, or the start of the document.
 */
function locate(doc: Document, path: ConfigPath, keyNode: boolean): number | undefined {
  let node: Node | null | undefined = doc.contents as Node | null;
  let anchor = node?.range?.[0];
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return anchor;
      const key = pair.key as Node;
      if (last && keyNode) return key.range?.[0] ?? anchor;
      node = pair.value as Node | null;
      // the value's position when this is the node asked for; else its key's
      anchor = (last ? node?.range?.[0] : undefined) ?? key.range?.[0] ?? anchor;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) return anchor;
      node = item;
      anchor = item.range?.[0] ?? anchor;
    } else {
      return anchor;
    }
  }
  return anchor;
}
