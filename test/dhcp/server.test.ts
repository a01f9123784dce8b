// The 4o6 server suite (server-suite.ts) over the SQLite lease store.
import { serverSuite } from './server-suite.js';

serverSuite('sqlite');
