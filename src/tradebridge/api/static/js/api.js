/** The REST API (`api/v1`, relative to the page, so it also works behind a path prefix). */

/** An answer that is not 2xx, with the API's error `code`, `message` and `details`; a
 * request that got no answer has status 0 and code `network_error`. */
export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

function apiUrl(path, query = {}) {
  const url = new URL(`api/v1${path}`, document.baseURI);
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, value);
  }
  return url;
}

async function call(method, url, headers, body) {
  let response;
  try {
    response = await fetch(url, { method, headers, body, cache: 'no-store' });
  } catch (error) {
    throw new ApiError(0, 'network_error', error.message);
  }
  const payload = await response.json().catch(() => null);
  if (response.ok) return payload;
  const error = payload?.error ?? {};
  throw new ApiError(
    response.status,
    error.code ?? 'http_error',
    error.message ?? response.statusText,
    error.details ?? {},
  );
}

/** `{access_token, token_type, expires_in}` for a username and password. */
export function requestToken(username, password) {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
  return call('POST', apiUrl('/auth/token'), headers, JSON.stringify({ username, password }));
}

/** Calls with the session's token; a 401 (token expired or revoked) calls `onUnauthorized`. */
export class Api {
  constructor(token, onUnauthorized) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  async request(method, path, { query, body } = {}) {
    const headers = { Accept: 'application/json', Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const text = body === undefined ? undefined : JSON.stringify(body);
    try {
      return await call(method, apiUrl(path, query), headers, text);
    } catch (error) {
      if (error.status === 401) this.onUnauthorized(error);
      throw error;
    }
  }

  get(path, query) {
    return this.request('GET', path, { query });
  }

  post(path, body) {
    return this.request('POST', path, { body });
  }

  delete(path) {
    return this.request('DELETE', path);
  }
}

/** A path segment, escaped. */
export const seg = (value) => encodeURIComponent(value);
