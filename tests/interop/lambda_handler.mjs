// A Lambda function written the way soketi's documentation shows for `lambda_function`
// webhooks, behind a minimal loopback Invoke API (POST /2015-03-31/functions/NAME/invocations),
// so that a sender can be pointed at it with an endpoint override:
//
//   exports.handler = async (event) => {
//     const { payload, headers } = event;
//     const signature = createHmac('sha256', secret).update(JSON.stringify(payload)).digest('hex');
//     if (signature !== headers['X-Pusher-Signature']) throw new Error('Invalid signature');
//     ...
//   };
//
// The Invoke body is parsed with JSON.parse, as Lambda's Node runtime does. Answers as real
// Lambda: 200 with the result, or 200 + X-Amz-Function-Error: Unhandled with the error; an
// `Event` invocation gets 202. Appends one JSON line per invocation to RESULTS_FILE:
//   {"ok":bool,"error":…,"invocation_type":…,"events_json":JSON.stringify(payload.events)}
//
//   node lambda_handler.mjs '{"secret":"app1secret"}' PORT_FILE RESULTS_FILE

import { createHmac } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [configText, portFile, resultsFile] = process.argv.slice(2);
const secret = JSON.parse(configText).secret;

// The handler, as in soketi's documentation.
const handler = async (event) => {
  const { payload, headers } = event;
  const signature = createHmac('sha256', secret).update(JSON.stringify(payload)).digest('hex');
  if (signature !== headers['X-Pusher-Signature']) {
    throw new Error('Invalid signature');
  }
  for (const e of payload.events) {
    if (e.name === 'channel_occupied') {
      console.log(`${e.channel} is now occupied.`);
    }
  }
  return { ok: true, events: payload.events.length };
};

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    const invocationType = req.headers['x-amz-invocation-type'] ?? 'RequestResponse';
    if (req.method !== 'POST' || !/^\/2015-03-31\/functions\/[^/]+\/invocations/.test(req.url)) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: `no route ${req.method} ${req.url}` }));
      return;
    }
    const record = { invocation_type: invocationType };
    let status = invocationType === 'Event' ? 202 : 200;
    let body;
    const headers = { 'Content-Type': 'application/json' };
    try {
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      record.events_json = JSON.stringify(event.payload?.events);
      const result = await handler(event);
      record.ok = true;
      body = invocationType === 'Event' ? '' : JSON.stringify(result);
    } catch (error) {
      record.ok = false;
      record.error = String(error.message ?? error);
      status = 200;
      headers['X-Amz-Function-Error'] = 'Unhandled';
      body = JSON.stringify({ errorType: 'Error', errorMessage: record.error });
    }
    appendFileSync(resultsFile, `${JSON.stringify(record)}\n`);
    res.writeHead(status, headers);
    res.end(body);
  });
});

server.listen(0, '127.0.0.1', () => {
  writeFileSync(portFile, String(server.address().port));
});
process.on('SIGTERM', () => process.exit(0));
