// api.js -- the one place the UI talks to the server.
//
// Every error the server sends has the shape {error, message, code}; fetch
// failures become the same shape with error "network", so views handle one
// kind of error. A bearer token, if the server wants one, is kept in
// localStorage under kadr.token.

export class ApiError extends Error {
  constructor(body, status) {
    super(body.message || body.error || `HTTP ${status}`);
    this.kind = body.error || 'http';
    this.status = status;
  }
}

function headers(extra = {}) {
  const h = { Accept: 'application/json', ...extra };
  const token = localStorage.getItem('kadr.token');
  if (token) h.Authorization = `Bearer ${token}`;
  return h;
}

async function request(method, path, body) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: headers(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    throw new ApiError({ error: 'network', message: e.message }, 0);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: 'bad_response', message: text.slice(0, 200) };
  }
  if (!res.ok) throw new ApiError(data || {}, res.status);
  return data;
}

export const api = {
  get: (path) => request('GET', path),
  post: (path, body) => request('POST', path, body ?? {}),
  del: (path) => request('DELETE', path),
};
