// The Node handler exactly as soketi's documentation writes it, timed per invocation on the
// same bodies as the Rust benchmarks: the body is parsed with JSON.parse as Lambda's Node
// runtime does, the signature recomputed over JSON.stringify(payload), then a loop over the
// events with three no-op branches.
//
//   node node_handler.mjs SECRET FILE...     prints one line per file: `NAME MEDIAN_NS`

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const [secret, ...files] = process.argv.slice(2);

const handler = async (event) => {
  const { payload, headers } = event;
  const signature = createHmac('sha256', secret).update(JSON.stringify(payload)).digest('hex');
  if (signature !== headers['X-Pusher-Signature']) {
    throw new Error('Invalid signature');
  }
  let handled = 0;
  for (const e of payload.events) {
    switch (e.name) {
      case 'channel_occupied':
      case 'member_added':
      case 'client_event':
        handled += 1;
        break;
      default:
        break;
    }
  }
  return handled;
};

// One invocation: what the runtime does with the body, then the handler.
const invoke = (bodyText) => handler(JSON.parse(bodyText));

for (const file of files) {
  const bodyText = readFileSync(file, 'utf8');
  // Calibrate a batch to about 20 ms, warm up, then take the median of 21 batches.
  let batch = 1;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) await invoke(bodyText);
    const ns = Number(process.hrtime.bigint() - start);
    if (ns > 20e6) break;
    batch *= 2;
  }
  const samples = [];
  for (let s = 0; s < 21; s++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) await invoke(bodyText);
    samples.push(Number(process.hrtime.bigint() - start) / batch);
  }
  samples.sort((x, y) => x - y);
  console.log(`${basename(file, '.json')} ${samples[10].toFixed(1)}`);
}
