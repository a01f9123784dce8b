// A small client of the API for the CLI (xbr status / bindings / leases / reload):
// fetch, the bearer token from a file, and every failure as one line an operator can
// act on (connection refused, timeout, 401, the API's own reason).
import { readFileSync } from 'node:fs';

export interface ClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  api: string;
  tokenFile?: string;
  timeoutMs?: number;
}

export class ApiClientError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ApiClientError';
  }
}

export interface ApiResponse<T> {
  status: number;
  body: T;
}

function readToken(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ApiClientError(`cannot read the token file ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const token = text.split('\n')[0].trim();
  if (token === '') throw new ApiClientError(`the token file ${path} is empty`);
  return token;
}

function describeFetchError(e: unknown, url: string, timeoutMs: number): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer from the xbr API at ${url} within ${timeoutMs / 1000} s`;
  const code = err.cause?.code;
  if (code === 'ECONNREFUSED') return `cannot reach the xbr API at ${url}: connection refused (is xbr running, with api.listen at this address?)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot reach the xbr API at ${url}: unknown host`;
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `cannot reach the xbr API at ${url}: no route to host`;
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return `the xbr API at ${url} closed the connection`;
  return `cannot reach the xbr API at ${url}: ${err.cause?.message ?? err.message}`;
}

/**
 * One call. Resolves with the status and parsed body for 2xx and for the statuses in
 * `accept`; anything else rejects with an ApiClientError whose message is one line.
 */
export async function apiCall<T>(
  opts: ClientOptions,
  method: string,
  path: string,
  body?: unknown,
  accept: number[] = [],
): Promise<ApiResponse<T>> {
  const base = opts.api.replace(/\/+$/, '');
  const url = `${base}${path}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.tokenFile) headers.authorization = `Bearer ${readToken(opts.tokenFile)}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new ApiClientError(describeFetchError(e, base, timeoutMs));
  }
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      if ((res.headers.get('content-type') ?? '').includes('json') || !res.ok) {
        throw new ApiClientError(`${method} ${path}: HTTP ${res.status} with a body that is not JSON (is ${base} the xbr API?)`, res.status);
      }
      parsed = text;
    }
  }
  if (res.ok || accept.includes(res.status)) return { status: res.status, body: parsed as T };
  const reason = (parsed as { error?: unknown } | undefined)?.error;
  const why = typeof reason === 'string' ? reason.split('\n')[0] : res.statusText;
  if (res.status === 401) {
    throw new ApiClientError(
      opts.tokenFile ? `401 unauthorized: ${why} (the token in ${opts.tokenFile} was refused)` : `401 unauthorized: ${why} (give --token-file with the token of api.token-file)`,
      401,
    );
  }
  throw new ApiClientError(`${res.status} ${res.statusText.toLowerCase()}: ${why}`, res.status);
}
