// Sends webhooks shaped and signed the way Pusher Channels sends them, using the official
// `pusher` npm package's own signer (`Pusher.Token`, what its `webhook().isValid()` checks), to
// an HTTP endpoint (the example function's Function URL), and writes what came back as JSON:
//
//   node pusher_webhook.mjs '{"url":"http://…","key":"app1key","secret":"app1secret","prefix":"p-"}' OUT.json
//
// Pusher's shape: `{"time_ms":…,"events":[…]}` printed by JSON.stringify, client event data as a
// JSON-encoded string, `subscription_count` events, headers X-Pusher-Key / X-Pusher-Signature.
// Each webhook is first checked with pusher.webhook({headers, rawBody}).isValid().

import { writeFileSync } from 'node:fs';
import Pusher from 'pusher';

const config = JSON.parse(process.argv[2]);
const outPath = process.argv[3];
const P = config.prefix;
const pusher = new Pusher({ appId: 'app', key: config.key, secret: config.secret, host: '127.0.0.1' });
const token = new Pusher.Token(config.key, config.secret);

const webhooks = [
  [{ name: 'channel_occupied', channel: `presence-${P}room` }],
  [{ name: 'member_added', channel: `presence-${P}room`, user_id: 'user-1' }],
  [{ name: 'client_event', channel: `presence-${P}room`, event: 'client-message',
     data: JSON.stringify({ text: 'hi </script> \u2028 😀' }), socket_id: '123.456', user_id: 'user-1' }],
  [{ name: 'subscription_count', channel: `${P}public`, subscription_count: 3 }],
  [
    { name: 'member_removed', channel: `presence-${P}room`, user_id: 'user-1' },
    { name: 'channel_vacated', channel: `presence-${P}room` },
    { name: 'cache_miss', channel: `cache-${P}chan` },
  ],
];

const results = [];
for (const events of webhooks) {
  const rawBody = JSON.stringify({ time_ms: Date.now(), events });
  const headers = {
    'content-type': 'application/json',
    'x-pusher-key': config.key,
    'x-pusher-signature': token.sign(rawBody),
  };
  if (!pusher.webhook({ headers, rawBody }).isValid()) {
    throw new Error(`the pusher package refuses its own webhook: ${rawBody}`);
  }
  const response = await fetch(config.url, { method: 'POST', headers, body: rawBody });
  results.push({ sent: rawBody, events: events.map((e) => e.name), status: response.status, body: await response.text() });
}
writeFileSync(outPath, JSON.stringify(results));
