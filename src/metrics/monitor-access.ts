import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { COMMON_HEADERS, sendJson } from './http-response.js';

/** Who may read a monitor server: a bearer token, or a function that decides for each request. */
export type MonitorAuth = string | ((request: IncomingMessage) => boolean | Promise<boolean>);

/** The cookie a browser gets after opening the dashboard with `?token=`. */
const TOKEN_COOKIE = 'pgrouter_token';

/** The host name a request names in its `Host` header, without port or IPv6 brackets, lower-cased. */
function hostNameOf(req: IncomingMessage): string {
  const header = (req.headers.host ?? '').toLowerCase();
  if (header.startsWith('[')) return header.slice(1, header.indexOf(']'));
  const colon = header.lastIndexOf(':');
  return colon < 0 ? header : header.slice(0, colon);
}

function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === TOKEN_COOKIE) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

/** Whether `req` may be answered; answers it itself (403, 401, or the cookie-setting redirect) when not. */
export async function admitted(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  auth: MonitorAuth | undefined,
  allowedHosts: ReadonlySet<string> | undefined,
): Promise<boolean> {
  if (allowedHosts !== undefined && !allowedHosts.has(hostNameOf(req))) {
    sendJson(res, 403, { error: 'host not allowed (serve.allowedHosts)' });
    return false;
  }
  if (auth === undefined) return true;
  if (typeof auth === 'function') {
    if (await auth(req)) return true;
  } else {
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (sameToken(bearer, auth) || sameToken(cookieToken(req), auth)) return true;
    if (url.pathname === '/' && sameToken(url.searchParams.get('token') ?? undefined, auth)) {
      // A browser's one visit with the token: keep it in a cookie the page's own requests carry, off the address bar.
      res.writeHead(303, {
        ...COMMON_HEADERS,
        Location: '/',
        'Set-Cookie': `${TOKEN_COOKIE}=${encodeURIComponent(auth)}; HttpOnly; SameSite=Strict; Path=/`,
      });
      res.end();
      return false;
    }
  }
  sendJson(res, 401, { error: 'unauthorized (serve.auth)' }, { 'WWW-Authenticate': 'Bearer' });
  return false;
}
