// PostGraphile v5 over leadgraph's tables: the peer that bench/peer.py measures against.
// DATABASE_URL and PORT from the environment; one Node process, no GraphiQL, no explain.
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { PostGraphileConnectionFilterPreset } from "postgraphile-plugin-connection-filter";

const preset = {
  extends: [PostGraphileAmberPreset, PostGraphileConnectionFilterPreset],
  pgServices: [
    makePgService({ connectionString: process.env.DATABASE_URL, schemas: ["public"] }),
  ],
  schema: { connectionFilterRelations: true, pgForbidSetofFunctionsToReturnNull: false },
  grafserv: { graphiqlOnGraphQLGET: false, graphiql: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (e) => console.error(e));
serv.addTo(server).catch((e) => {
  console.error(e);
  process.exit(1);
});
server.listen(Number(process.env.PORT || 9810), "127.0.0.1");
