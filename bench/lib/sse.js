/** A minimal Server-Sent Events client (a dashboard tab): connects, reads and discards, closes. */
import http from 'node:http';

export function connectSse(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`SSE ${url}: HTTP ${res.statusCode}`));
        return;
      }
      // Connected once the first event arrives; the rest is read and discarded, as a tab would.
      res.once('data', () => resolve({ close: () => req.destroy() }));
      res.resume();
    });
    req.on('error', (error) => {
      if (error.code !== 'ECONNRESET') reject(error);
    });
  });
}

/** Starts a node:http server for `handler` on a free local port. */
export function listen(handler) {
  const server = http.createServer(handler);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` }));
  });
}

export function closeServer(server) {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}
