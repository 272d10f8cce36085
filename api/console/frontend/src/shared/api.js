// JSON calls from a builder to the console's /console/api/ endpoints, with the session's CSRF token (the page
// carries it in <meta name="csrf-token">). Every answer resolves, never rejects: {ok, status, data, error},
// where error is the envelope's {code, message, details} (or a network error put in the same shape).

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") ?? "";
}

async function call(method, url, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.headers["X-CSRF-Token"] = csrfToken();
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (failure) {
    const error = { code: "network_error", message: `the console could not be reached (${failure.message})`, details: null };
    return { ok: false, status: 0, data: null, error };
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.ok) return { ok: true, status: response.status, data, error: null };
  const error = data?.error ?? { code: "http_error", message: `the console answered ${response.status}`, details: null };
  return { ok: false, status: response.status, data, error };
}

export const getJSON = (url) => call("GET", url);
export const sendJSON = (method, url, body) => call(method, url, body ?? {});
