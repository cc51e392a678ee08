// The client of docs/API.md. Every failure becomes an ApiError carrying the server's message.

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `The server answered ${status}.`);
    this.status = status;
    this.code = e.code || `http.${status}`;
    this.details = e.details || {};
  }
}

async function parse(res) {
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') || '';
  const body = type.includes('json') ? await res.json().catch(() => null) : await res.text().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, typeof body === 'object' ? body : { error: { message: body || res.statusText } });
  return body;
}

export async function request(method, path, body, { signal } = {}) {
  const init = { method, signal, headers: {} };
  if (body !== undefined) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
  let res;
  try { res = await fetch(path, init); } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, { error: { code: 'network', message: 'The mixlab server does not answer. Is `mixlab serve` still running?' } });
  }
  return parse(res);
}

const S = (sid) => `/api/sessions/${encodeURIComponent(sid)}`;

export const api = {
  options: () => request('GET', '/api/options'),
  sessions: () => request('GET', '/api/sessions'),
  createSession: (name, kind) => request('POST', '/api/sessions', { name, kind }),
  session: (sid) => request('GET', S(sid)),
  patchSession: (sid, patch) => request('PATCH', S(sid), patch),
  deleteSession: (sid) => request('DELETE', S(sid)),
  deleteTrack: (sid, tid) => request('DELETE', `${S(sid)}/tracks/${encodeURIComponent(tid)}`),
  deleteReference: (sid) => request('DELETE', `${S(sid)}/reference`),
  peaks: (sid, tid, points = 1200) => request('GET', `${S(sid)}/tracks/${encodeURIComponent(tid)}/peaks?points=${points}`),
  audioUrl: (sid, tid) => `${S(sid)}/tracks/${encodeURIComponent(tid)}/audio`,
  plan: (sid) => request('GET', `${S(sid)}/plan`),
  putPlan: (sid, plan) => request('PUT', `${S(sid)}/plan`, plan),
  mix: (sid, plan) => request('POST', `${S(sid)}/mix`, plan ? { plan } : {}),
  render: (sid, body) => request('POST', `${S(sid)}/render`, body),
  notes: (sid, plan, signal) => request('POST', `${S(sid)}/notes`, { plan }, { signal }),
  audioNotes: (sid, { version, file } = {}, signal) => request('GET', `${S(sid)}/notes/audio${version ? `?version=${encodeURIComponent(version)}&file=${encodeURIComponent(file)}` : ''}`, undefined, { signal }),
  versions: (sid) => request('GET', `${S(sid)}/versions`),
  job: (jid) => request('GET', `/api/jobs/${encodeURIComponent(jid)}`),
  fetchJson: (url) => request('GET', url),
};

/**
 * Upload one file with its own progress (XMLHttpRequest: fetch has no upload progress).
 * Resolves with the JSON answer, rejects with an ApiError carrying the server's message.
 * Returns {promise, abort}.
 */
export function uploadFile(path, file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', path);
    xhr.responseType = 'text';
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress?.(e.loaded / e.total, e.loaded, e.total); };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body || { error: { message: xhr.responseText || `Upload failed (${xhr.status}).` } }));
    };
    xhr.onerror = () => reject(new ApiError(0, { error: { code: 'network', message: `${file.name}: the upload was interrupted (connection lost or refused by the server).` } }));
    xhr.onabort = () => reject(new ApiError(0, { error: { code: 'upload.aborted', message: `${file.name}: upload cancelled.` } }));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

export const uploadStem = (sid, file, onProgress) => uploadFile(`${S(sid)}/files`, file, onProgress);
export const uploadReference = (sid, file, onProgress) => uploadFile(`${S(sid)}/reference`, file, onProgress);

/**
 * Follow a job through its server-sent events; falls back to polling if the stream fails.
 * onUpdate(job) on every event; resolves with the final job.
 */
export function watchJob(jobId, onUpdate) {
  return new Promise((resolve) => {
    let finished = false;
    const finish = (job) => { if (!finished) { finished = true; resolve(job); } };
    const poll = async () => {
      while (!finished) {
        try {
          const job = await api.job(jobId);
          onUpdate(job);
          if (job.state === 'done' || job.state === 'failed' || job.state === 'cancelled') { finish(job); return; }
        } catch { /* server busy: try again */ }
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    let es;
    try { es = new EventSource(`/api/jobs/${encodeURIComponent(jobId)}/events`); } catch { poll(); return; }
    es.onmessage = (e) => {
      let job;
      try { job = JSON.parse(e.data); } catch { return; }
      onUpdate(job);
      if (job.state === 'done' || job.state === 'failed' || job.state === 'cancelled') { es.close(); finish(job); }
    };
    es.onerror = () => { es.close(); if (!finished) poll(); };
  });
}
