// An HTTP webhook receiver built on the official `pusher` npm package, the way its README
// shows: `pusher.webhook({ headers, rawBody }).isValid()`. Listens on 127.0.0.1 (a free port,
// written to PORT_FILE once listening), answers 200 to a valid webhook and 401 otherwise, and
// appends one JSON line per request to RESULTS_FILE:
//   {"valid":bool,"key":…,"time_ms":…,"events_json":JSON.stringify(webhook.getEvents()),"raw":…}
//
//   node pusher_receiver.mjs '{"appId":"app","key":"app1key","secret":"app1secret"}' PORT_FILE RESULTS_FILE

import { appendFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Pusher from 'pusher';

const [configText, portFile, resultsFile] = process.argv.slice(2);
const config = JSON.parse(configText);
const pusher = new Pusher({ appId: config.appId, key: config.key, secret: config.secret, host: '127.0.0.1' });

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const webhook = pusher.webhook({ headers: req.headers, rawBody });
    const valid = webhook.isValid();
    const result = { valid, key: req.headers['x-pusher-key'] ?? null, raw: rawBody };
    if (valid) {
      result.time_ms = webhook.getTime().getTime();
      result.events_json = JSON.stringify(webhook.getEvents());
    }
    appendFileSync(resultsFile, `${JSON.stringify(result)}\n`);
    res.writeHead(valid ? 200 : 401, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ valid }));
  });
});

server.listen(0, '127.0.0.1', () => {
  writeFileSync(portFile, String(server.address().port));
});
process.on('SIGTERM', () => process.exit(0));
