// Drives a running soketi with real Pusher-protocol clients (the `ws` package speaking
// protocol 7 by hand, so that every frame is sent byte for byte as written here) and prints
// the webhook events soketi must send for what the clients did, as JSON:
//
//   node driver.mjs '{"port":6001,"key":"app1key","secret":"app1secret","prefix":"run1"}' OUT.json
//
// Channels are public, private, presence (string and numeric user ids) and cache; client
// events carry data as an object, a JSON string, none at all, and hostile text; clients
// unsubscribe and disconnect. Private and presence auth is computed here with the app secret
// (HMAC-SHA256 of "socket_id:channel[:channel_data]"), as an auth endpoint would.
//
// Each step waits for what soketi answers (subscription_succeeded, the event arriving at the
// other client, pong) so that the expected webhooks follow from the order of the steps.

import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';

const config = JSON.parse(process.argv[2]);
const outPath = process.argv[3];
const P = config.prefix;
const STEP_TIMEOUT_MS = 15000;

const expected = [];
const expect = (event) => expected.push(event);

class Client {
  constructor(name) {
    this.name = name;
    this.inbox = [];
    this.waiters = [];
  }

  async connect() {
    const url = `ws://127.0.0.1:${config.port}/app/${config.key}?protocol=7&client=js&version=8.4.0&flash=false`;
    this.ws = new WebSocket(url);
    this.ws.on('message', (raw) => {
      const message = JSON.parse(raw.toString('utf8'));
      this.inbox.push(message);
      this.waiters = this.waiters.filter((w) => !w(message));
    });
    this.closed = new Promise((resolve) => this.ws.on('close', resolve));
    const established = await this.next((m) => m.event === 'pusher:connection_established', 'connection');
    this.socketId = JSON.parse(established.data).socket_id;
    return this;
  }

  // Resolves with the first message (already received or future) matching `predicate`.
  next(predicate, what) {
    const index = this.inbox.findIndex(predicate);
    if (index >= 0) {
      return Promise.resolve(this.inbox.splice(index, 1)[0]);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: no ${what} within ${STEP_TIMEOUT_MS} ms; inbox: ${JSON.stringify(this.inbox)}`)),
        STEP_TIMEOUT_MS,
      );
      this.waiters.push((message) => {
        if (!predicate(message)) return false;
        clearTimeout(timer);
        this.inbox.splice(this.inbox.indexOf(message), 1);
        resolve(message);
        return true;
      });
    });
  }

  sendRaw(text) {
    this.ws.send(text);
  }

  send(object) {
    this.sendRaw(JSON.stringify(object));
  }

  async subscribe(channel, userId, userInfo) {
    const data = { channel };
    if (channel.startsWith('private-')) {
      data.auth = `${config.key}:${sign(`${this.socketId}:${channel}`)}`;
    } else if (channel.startsWith('presence-')) {
      data.channel_data = JSON.stringify({ user_id: userId, user_info: userInfo ?? {} });
      data.auth = `${config.key}:${sign(`${this.socketId}:${channel}:${data.channel_data}`)}`;
    }
    this.send({ event: 'pusher:subscribe', data });
    const reply = await this.next(
      (m) => m.channel === channel && (m.event === 'pusher_internal:subscription_succeeded' || m.event === 'pusher:subscription_error'),
      `subscription to ${channel}`,
    );
    if (reply.event !== 'pusher_internal:subscription_succeeded') {
      throw new Error(`${this.name}: subscribing to ${channel} failed: ${JSON.stringify(reply)}`);
    }
  }

  // soketi handles one socket's messages in order: a pong means the earlier ones were read.
  async ping() {
    this.send({ event: 'pusher:ping', data: {} });
    await this.next((m) => m.event === 'pusher:pong', 'pong');
  }

  async unsubscribe(channel) {
    this.send({ event: 'pusher:unsubscribe', data: { channel } });
    await this.ping();
  }

  async close() {
    this.ws.close();
    await this.closed;
  }
}

function sign(text) {
  return createHmac('sha256', config.secret).update(text).digest('hex');
}

// Sends a client event whose `data` member is `dataText` verbatim (or absent when null), and
// waits until `receiver` gets it. Returns the data as soketi re-prints it (JSON.stringify of
// the parsed value), which is what its webhook carries.
async function clientEvent(sender, receiver, channel, event, dataText, userId) {
  const frame = dataText === null
    ? `{"event":${JSON.stringify(event)},"channel":${JSON.stringify(channel)}}`
    : `{"event":${JSON.stringify(event)},"channel":${JSON.stringify(channel)},"data":${dataText}}`;
  JSON.parse(frame); // the frame itself must be valid JSON
  sender.sendRaw(frame);
  await receiver.next((m) => m.event === event && m.channel === channel, `${event} on ${channel}`);
  const expectedEvent = { name: 'client_event', channel, event, socket_id: sender.socketId };
  if (dataText !== null) {
    expectedEvent.data = JSON.stringify(JSON.parse(dataText));
  }
  if (userId !== undefined) {
    expectedEvent.user_id = userId;
  }
  expect(expectedEvent);
}

// Hostile client data, as raw JSON text: quotes, backslashes, </script>, a raw U+2028 and
// U+2029, emoji, a lone surrogate escape, control characters, numbers JavaScript re-prints
// (1e21, 2^64, -0, 1.50, 0.1), and integer-like keys that JSON.stringify moves to the front.
const HOSTILE = '{"z":"last","text":"\\"dq\\" \'sq\' back\\\\slash </script><b>&amp;</b> a/b \u2028 \u2029 😀 👨‍👩‍👧 lone \\ud800 tab\\t nl\\n nul\\u0000 del\u007f","big":1e21,"two64":18446744073709551616,"neg0":-0,"f":1.50,"tenth":0.1,"2":"two","1":"one","nested":{"b":[1,2,{"10":true,"9":null}],"a":"x"}}';

async function main() {
  const a = await new Client('A').connect();
  const b = await new Client('B').connect();

  // Public channel: occupied once, vacated when the last one leaves.
  await a.subscribe(`${P}-public`);
  expect({ name: 'channel_occupied', channel: `${P}-public` });
  await b.subscribe(`${P}-public`);

  // Private channel.
  await a.subscribe(`private-${P}-chat`);
  expect({ name: 'channel_occupied', channel: `private-${P}-chat` });
  await b.subscribe(`private-${P}-chat`);

  // Presence: a string user id and a numeric one.
  await a.subscribe(`presence-${P}-room`, 'user-a', { name: 'Zoë </script>' });
  expect({ name: 'channel_occupied', channel: `presence-${P}-room` });
  expect({ name: 'member_added', channel: `presence-${P}-room`, user_id: 'user-a' });
  await b.subscribe(`presence-${P}-room`, 42, { name: 'forty-two' });
  expect({ name: 'member_added', channel: `presence-${P}-room`, user_id: 42 });
  await a.next((m) => m.event === 'pusher_internal:member_added' && m.channel === `presence-${P}-room`, 'member_added for 42');

  // Cache channel: nothing cached yet, so a cache miss.
  await a.subscribe(`cache-${P}-cache`);
  expect({ name: 'channel_occupied', channel: `cache-${P}-cache` });
  expect({ name: 'cache_miss', channel: `cache-${P}-cache` });
  await a.next((m) => m.event === 'pusher:cache_miss' && m.channel === `cache-${P}-cache`, 'cache miss');

  // Client events: object data, a JSON string (what pusher-js sends after JSON.stringify),
  // no data at all, hostile data, and one from the numeric user.
  await clientEvent(a, b, `private-${P}-chat`, 'client-object', '{"text":"hi","n":1}');
  await clientEvent(a, b, `private-${P}-chat`, 'client-string', JSON.stringify(JSON.stringify({ text: 'hi' })));
  await clientEvent(a, b, `private-${P}-chat`, 'client-nodata', null);
  await clientEvent(a, b, `presence-${P}-room`, 'client-hostile', HOSTILE, 'user-a');
  await clientEvent(a, b, `presence-${P}-room`, 'client-hostile-string', JSON.stringify(HOSTILE), 'user-a');
  await clientEvent(b, a, `presence-${P}-room`, 'client-numeric-user', '{"n":2}', 42);

  // Unsubscribes: the public channel is vacated only when its last subscriber leaves.
  await a.unsubscribe(`${P}-public`);
  await b.unsubscribe(`${P}-public`);
  expect({ name: 'channel_vacated', channel: `${P}-public` });
  // The numeric member leaves the room; A is still in it.
  await b.unsubscribe(`presence-${P}-room`);
  expect({ name: 'member_removed', channel: `presence-${P}-room`, user_id: 42 });
  await a.next((m) => m.event === 'pusher_internal:member_removed' && m.channel === `presence-${P}-room`, 'member_removed for 42');

  // A third client alone in a presence channel, numeric id, then it disconnects.
  const c = await new Client('C').connect();
  await c.subscribe(`presence-${P}-solo`, 7, {});
  expect({ name: 'channel_occupied', channel: `presence-${P}-solo` });
  expect({ name: 'member_added', channel: `presence-${P}-solo`, user_id: 7 });
  await c.close();
  expect({ name: 'member_removed', channel: `presence-${P}-solo`, user_id: 7 });
  expect({ name: 'channel_vacated', channel: `presence-${P}-solo` });

  // Disconnects: A was last in the room and the cache channel; B then in the chat.
  await a.close();
  expect({ name: 'member_removed', channel: `presence-${P}-room`, user_id: 'user-a' });
  expect({ name: 'channel_vacated', channel: `presence-${P}-room` });
  expect({ name: 'channel_vacated', channel: `cache-${P}-cache` });
  await b.close();
  expect({ name: 'channel_vacated', channel: `private-${P}-chat` });

  writeFileSync(outPath, JSON.stringify({ expected }, null, 1));
  console.log(`driver: ${expected.length} webhook events expected`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`driver failed: ${error.stack ?? error}`);
    process.exit(1);
  },
);
