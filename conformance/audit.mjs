// Runs graphql-http's server audits against LEADGRAPH_URL with LEADGRAPH_KEY.
// Exits 1 on any failing MUST ("error"); prints every SHOULD warning with its name.
import { auditServer } from 'graphql-http';

const url = process.env.LEADGRAPH_URL ?? 'http://127.0.0.1:8000/graphql';
const key = process.env.LEADGRAPH_KEY;
const fetchWithKey = (input, init = {}) =>
  fetch(input, { ...init, headers: { ...(init.headers ?? {}), Authorization: `Bearer ${key}` } });

const results = await auditServer({ url, fetchFn: fetchWithKey });
let errors = 0;
for (const result of results) {
  if (result.status === 'ok') continue;
  if (result.status === 'error') errors += 1;
  console.log(`${result.status.toUpperCase()}: ${result.name}: ${result.reason}`);
}
const ok = results.filter((r) => r.status === 'ok').length;
console.log(`graphql-http audit: ${ok} ok, ${results.length - ok - errors} warnings/notices, ${errors} failing MUSTs`);
process.exit(errors ? 1 : 0);
