// A real graphql-ws client against LEADGRAPH_URL with LEADGRAPH_KEY: subscribes to scoreChanged
// for a new lead, records an interaction over HTTP, and expects the new score within a second;
// then checks that a bad key is refused with close code 4401. Exits 1 on any failure.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.env.LEADGRAPH_URL ?? 'http://127.0.0.1:8000/graphql';
const key = process.env.LEADGRAPH_KEY;
const wsUrl = url.replace(/^http/, 'ws');

async function gql(query, variables = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

function fail(message) {
  console.error(`graphql-ws: ${message}`);
  process.exit(1);
}

const lead = (await gql('mutation { createLead(input: {topic: "Solar", email: "ws@example.com"}) { lead { id } } }'))
  .createLead.lead.id;

const client = createClient({
  url: wsUrl,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${key}` },
});
const received = new Promise((resolve, reject) => {
  client.subscribe(
    {
      query: 'subscription($lead: ID) { scoreChanged(leadId: $lead) { score previousScore lead { id score } } }',
      variables: { lead },
    },
    { next: resolve, error: reject, complete: () => reject(new Error('completed early')) },
  );
});
await new Promise((resolve) => client.on('connected', resolve));
await new Promise((resolve) => setTimeout(resolve, 300)); // the subscription is registered
const started = performance.now();
await gql('mutation($lead: ID!) { recordInteraction(input: {leadId: $lead, type: FORM_SUBMITTED}) { userErrors { message } } }', { lead });
const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no event within 5 s')), 5000));
const event = await Promise.race([received, timeout]).catch((e) => fail(e.message ?? JSON.stringify(e)));
const delay = performance.now() - started;
const change = event.data?.scoreChanged;
if (!change || change.lead.id !== lead || change.score !== change.lead.score) fail(`unexpected event ${JSON.stringify(event)}`);
if (delay > 1000) fail(`the event took ${delay.toFixed(0)} ms`);
console.log(`graphql-ws: scoreChanged ${change.previousScore} -> ${change.score} in ${delay.toFixed(0)} ms`);
await client.dispose();

const refused = await new Promise((resolve) => {
  const bad = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: 'Bearer lg_not-a-key' },
    retryAttempts: 0,
    on: { closed: (event) => resolve(event.code) },
  });
  bad.subscribe({ query: 'subscription { recordChanged { id } }' }, { next() {}, error() {}, complete() {} });
});
if (refused !== 4401) fail(`a bad key closed with ${refused}, not 4401`);
console.log('graphql-ws: a bad key is refused with 4401');
process.exit(0);
