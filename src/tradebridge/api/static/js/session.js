/** The login token, kept in sessionStorage: it lasts while the tab is open, and is gone when
 * the tab is closed or the user logs out. */

const TOKEN_KEY = 'tradebridge.token';

/** The claims of a JWT (not verified: the server does that; the page only reads who it is). */
function claims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** A session: the token and who it names. */
export function sessionOf(token) {
  const payload = claims(token);
  if (!payload || typeof payload.exp !== 'number' || payload.exp * 1000 <= Date.now()) {
    return null;
  }
  return { token, username: String(payload.sub ?? ''), role: String(payload.role ?? '') };
}

export function storedSession() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const session = token ? sessionOf(token) : null;
  if (!session) sessionStorage.removeItem(TOKEN_KEY);
  return session;
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}
